length = 4
rule "charset" { charset = "ab"
 min-chars = 5 }
