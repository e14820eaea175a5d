/* banned.h — functions Trove does not use. Including this last in a .c file
 * turns any use into a compile error. Use buf_*, strtoll with full checks,
 * snprintf, or the parsers in lib/ instead. */
#ifndef TROVE_BANNED_H
#define TROVE_BANNED_H

#define BANNED(func) sorry_##func##_is_banned_in_trove

#undef strcpy
#define strcpy(x, y) BANNED(strcpy)
#undef strcat
#define strcat(x, y) BANNED(strcat)
#undef sprintf
#define sprintf(...) BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) BANNED(vsprintf)
#undef strtok
#define strtok(x, y) BANNED(strtok)
#undef atoi
#define atoi(x) BANNED(atoi)
#undef atol
#define atol(x) BANNED(atol)
#undef sscanf
#define sscanf(...) BANNED(sscanf)
#undef gets
#define gets(x) BANNED(gets)

#endif
