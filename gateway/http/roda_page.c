/* roda_page.c - looks up the embedded page files (see roda_page.h). */
#include "roda_page.h"

#include <string.h>

const roda_page_file_t *roda_page_find(const char *url)
{
    for (unsigned i = 0; i < roda_page_file_count; i++)
        if (strcmp(url, roda_page_files[i].path) == 0)
            return &roda_page_files[i];
    return NULL;
}
