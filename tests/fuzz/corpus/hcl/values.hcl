esc = "q\" b\\ n\n t\t \u00e9 \U0001F600 \ud83d\ude00"
num = 0x1F
oct = 0755
f = -1.5e3
big = 9223372036854775807
"quoted key" = "v"
