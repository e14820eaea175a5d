/* placeholder until implemented */
typedef int trove_placeholder_unit;
