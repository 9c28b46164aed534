/* CommandLineToArgvW-compatible splitting (see cmdline.h). The algorithm follows the
 * observable behaviour of shell32, as documented by Wine's implementation and
 * daviddeley.com's "How Command Line Parameters Are Parsed". */
#include "hcs/emu/cmdline.h"

#include <string.h>

#include "core/alloc.h"
#include "cow/error.h"

static int is_blank(char c)
{
  return c == ' ' || c == '\t';
}

/* One pass over the line. With argv == NULL only counts arguments and output bytes. */
static void split(const char *s, char **argv, char *buf, size_t *argc_out, size_t *bytes_out)
{
  size_t argc = 0, bytes = 0;
  char *d = buf;

  /* argv[0]: no escapes at all. */
  if (argv)
    argv[argc] = d;
  if (*s == '"') {
    s++;
    while (*s && *s != '"') {
      if (d)
        *d++ = *s;
      s++, bytes++;
    }
    if (*s == '"')
      s++;
  } else {
    while (*s && !is_blank(*s)) {
      if (d)
        *d++ = *s;
      s++, bytes++;
    }
  }
  if (d)
    *d++ = '\0';
  bytes++, argc++;

  while (is_blank(*s))
    s++;
  while (*s) {
    /* One argument. qcount counts pending quotes; odd means "inside quotes". */
    size_t qcount = 0, bcount = 0;
    if (argv)
      argv[argc] = d;
    while (*s) {
      if (is_blank(*s) && qcount == 0)
        break;
      if (*s == '\\') {
        if (d)
          *d++ = '\\';
        bytes++, bcount++, s++;
      } else if (*s == '"') {
        if ((bcount & 1) == 0) {
          /* 2n backslashes: keep n, the quote is a delimiter. */
          if (d)
            d -= bcount / 2;
          bytes -= bcount / 2;
          qcount++;
        } else {
          /* 2n+1 backslashes: keep n, then a literal quote. */
          if (d) {
            d -= bcount / 2 + 1;
            *d++ = '"';
          }
          bytes -= bcount / 2;
        }
        s++;
        bcount = 0;
        while (*s == '"') {
          if (++qcount == 3) {
            if (d)
              *d++ = '"';
            bytes++;
            qcount = 0;
          }
          s++;
        }
        if (qcount == 2)
          qcount = 0;
      } else {
        if (d)
          *d++ = *s;
        bytes++, bcount = 0, s++;
      }
    }
    if (d)
      *d++ = '\0';
    bytes++, argc++;
    while (is_blank(*s))
      s++;
  }
  if (argv)
    argv[argc] = NULL;
  *argc_out = argc;
  *bytes_out = bytes;
}

int cow__emu_cmdline_split(const char *cmdline, char ***argv_out, size_t *argc_out)
{
  size_t argc = 0, bytes = 0;
  if (argv_out == NULL)
    return COW_EINVAL;
  *argv_out = NULL;
  if (cmdline == NULL)
    return COW_EINVAL;
  const char *p = cmdline;
  while (is_blank(*p))
    p++;
  if (*p == '\0')
    return COW_EINVAL;
  /* Leading blanks before argv[0] are skipped by the emulator (shell32 would yield an empty
   * program name, which cannot be executed anyway). */
  split(p, NULL, NULL, &argc, &bytes);
  size_t ptrs = (argc + 1) * sizeof(char *);
  char **argv = cow__malloc(ptrs + bytes);
  if (argv == NULL)
    return COW_ENOMEM;
  split(p, argv, (char *)argv + ptrs, &argc, &bytes);
  if (argv[0][0] == '\0') {
    cow__free(argv);
    return COW_EINVAL; /* `""` as the program */
  }
  *argv_out = argv;
  if (argc_out != NULL)
    *argc_out = argc;
  return 0;
}
