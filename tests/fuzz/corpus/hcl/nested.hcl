a = { b = { c = [1, 2.5, true, "s", [3], { d = 4 }] } }
blk { x = 1, y = 2 }
two "l1" l2 { }
