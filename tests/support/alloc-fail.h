/* Test support: fail one allocation at a time, in libcow and jansson together, to show that
 * a call given no memory anywhere fails whole (COW_ENOMEM, nothing half built) and never
 * returns success with a part missing.
 *
 *   af_install();                  before any libcow or jansson call, as both hooks require
 *   for (long n = 1;; n++) {
 *     af_arm(n);                   the n-th allocation from here fails
 *     int rc = build(...);
 *     int reached = af_disarm();   nothing fails any more; 1 if the n-th was reached
 *     ... check rc ...; if (!reached) break;   every allocation of the build was tried
 *   }
 *
 * Until af_arm() nothing fails and nothing is counted. One thread at a time. */
#ifndef COW_TESTS_SUPPORT_ALLOC_FAIL_H
#define COW_TESTS_SUPPORT_ALLOC_FAIL_H

void af_install(void);
void af_arm(long n);
int af_disarm(void);

#endif
