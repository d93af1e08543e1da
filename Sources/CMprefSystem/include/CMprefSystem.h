#ifndef CMPREFSYSTEM_H
#define CMPREFSYSTEM_H
/// Makes the calling process a child subreaper (Linux `prctl(PR_SET_CHILD_SUBREAPER, 1)`), so
/// orphaned grandchildren of hooks are re-parented to the daemon and can be reaped by it.
/// Returns 0 on success, -1 with errno set on failure (and on non-Linux systems).
int mpref_set_child_subreaper(void);
#endif
