/* The jansson_results check's own test (check_jansson_results.cmake): it must report
 * exactly the six lines marked "found", and none of the others. Never built. */
#include <jansson.h>

int sample(json_t *o, const char *s);

int sample(json_t *o, const char *s)
{
  json_object_set_new(o, "a", json_string(s)); /* found: the set's -1 is lost */
  json_array_append_new(o, json_integer(1));   /* found */
  json_object_del(o, "b");                     /* found */
  json_pack("{s:s}", "c", s);                  /* found: a leak, or a NULL never seen */
  json_dumps(o, 0);                            /* found */
  json_object_update(o, o);                    /* found */
  (void)json_object_del(o, "d");               /* kept: ignored on purpose, and says so */
  if (json_object_set_new(o, "e", json_string(s)) != 0)
    return -1;
  json_t *v = json_pack("{s:s}", "f", s);
  return v != NULL && json_array_append_new(o, v) == 0 ? 0 : -1;
}
