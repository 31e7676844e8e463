/* version.c - the version the library was built as (see libtensor_version.h). */
#include "libtensor.h"

const char *lt_version(void)
{
    return LT_VERSION_STRING;
}

int lt_version_number(void)
{
    return LT_VERSION_NUMBER;
}
