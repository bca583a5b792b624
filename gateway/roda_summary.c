/* roda_summary.c - the EWMA weight shared by every summary (see roda_summary.h). */
#include "roda_summary.h"

double roda_summary_alpha = RODA_SUMMARY_DEFAULT_ALPHA;
