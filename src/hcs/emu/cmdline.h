/* Internal: split a Windows command line into argv, exactly like CommandLineToArgvW.
 *
 * hcsshim builds CommandLine with Windows escaping (docs/hcs-api.md §6.5 item 16), so the emulator
 * must undo it with the same rules, not with POSIX shell rules:
 *   - argv[0] (the program) ends at the next space/tab, or, when it starts with '"', at the
 *     next '"' with no escape processing at all;
 *   - later arguments are separated by unquoted spaces/tabs; 2n backslashes before '"' give
 *     n backslashes and the quote toggles quoting; 2n+1 backslashes before '"' give n
 *     backslashes and a literal '"'; other backslashes are literal;
 *   - runs of quotes follow the undocumented shell32 rule (as reproduced by Wine): inside a
 *     run, every third quote is a literal '"', and a run leaving two pending quotes ends the
 *     quoted section.
 * Works on UTF-8 (the special characters are all ASCII). */
#ifndef COW_HCS_EMU_CMDLINE_H
#define COW_HCS_EMU_CMDLINE_H

#include <stddef.h>

/* On success returns 0 and a NULL-terminated argv allocated as one block with cow__malloc
 * (release with cow__free(*argv)); *argc may be NULL. An empty or all-blank command line is
 * COW_EINVAL (Windows would substitute the caller's own executable). COW_ENOMEM. */
int cow__emu_cmdline_split(const char *cmdline, char ***argv, size_t *argc);

#endif
