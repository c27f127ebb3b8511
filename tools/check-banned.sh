#!/bin/sh
# Fails when our own sources call a banned function (STYLE.md): sprintf,
# strcpy, strcat, strtok, atoi, gets. snprintf, strtok_r-free code, strtoul
# and mh_strlcpy are the replacements.
top=${1:-.}
hits=$(grep -nE '(^|[^_a-zA-Z0-9])(sprintf|vsprintf|strcpy|strcat|strtok|atoi|gets)[[:space:]]*\(' \
	"$top"/scanner/*.c "$top"/probes/*.c "$top"/report/*.c "$top"/include/mailhole/*.h \
	"$top"/tests/unit/*.c "$top"/tests/fuzz/*.c "$top"/tests/lab/*.c 2>/dev/null)
if [ -n "$hits" ]; then
	echo "banned functions used:"
	echo "$hits"
	exit 1
fi
echo "banned-functions: none used"
