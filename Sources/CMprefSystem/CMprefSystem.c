#include "CMprefSystem.h"
#ifdef __linux__
#include <sys/prctl.h>
int mpref_set_child_subreaper(void) { return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); }
#else
#include <errno.h>
int mpref_set_child_subreaper(void) { errno = ENOSYS; return -1; }
#endif
