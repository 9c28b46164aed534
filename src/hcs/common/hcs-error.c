/* HCS failures as cow_error_t; see hcs-error.h. */
#include "hcs/common/hcs-error.h"

#include <jansson.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "hcs/common/utf16.h"

int cow__hcs_error(cow_error_t *err, HRESULT hr, const char *operation, const char *object_id,
                   const char *result_doc)
{
  uint32_t u = cow_hresult((int64_t)hr);
  char *message = NULL;
  if (result_doc != NULL && *result_doc != '\0') {
    /* Only ErrorMessage is used for the text; the whole document (ErrorEvents, Attribution)
     * travels in detail_json for whoever needs more. A malformed document is kept as is:
     * it is still the best description the service gave. */
    json_t *doc = json_loads(result_doc, 0, NULL);
    const char *m = json_string_value(json_object_get(doc, "ErrorMessage"));
    if (m != NULL && *m != '\0')
      message = cow__strdup(m);
    json_decref(doc);
  }
  int code = cow__error_hresult(err, COW_DOMAIN_HCS, u, operation, object_id, message);
  cow__free(message);
  if (result_doc != NULL && *result_doc != '\0')
    cow__error_set_detail(err, result_doc);
  return code;
}

int cow__hcs_error_bad_reply(cow_error_t *err, HRESULT hr, const char *operation,
                             const char *object_id, const char *what)
{
  return cow__error_set(err, COW_EPROTOCOL, COW_DOMAIN_HCS, cow_hresult((int64_t)hr), operation,
                        object_id, "unexpected reply from the Host Compute Service: %s", what);
}

char *cow__hcs_take_string(void (*free_string)(PWSTR), PWSTR s)
{
  if (s == NULL)
    return NULL;
  char *out = NULL;
  if (cow__utf8_from_utf16(s, &out) != 0)
    out = NULL;
  free_string(s);
  return out;
}

int cow__hcs_stop_tolerated(HRESULT hr)
{
  uint32_t u = (uint32_t)hr;
  return cow_hresult_equal(u, 0x80370110u) || cow_hresult_equal(u, 0x8037010Eu) ||
         u == 0xC0370103u || u == 0x80370117u;
}

int cow__hcs_kill_tolerated(HRESULT hr)
{
  uint32_t u = (uint32_t)hr;
  return cow_hresult_equal(u, 0x80370110u) || cow_hresult_equal(u, 0x8037011Fu) ||
         cow_hresult_equal(u, 0x8037010Eu) || u == 0x80070490u || u == 0x80070005u;
}

int cow__hcs_signal_gone(HRESULT hr)
{
  uint32_t u = (uint32_t)hr;
  return cow_hresult_equal(u, 0x80370105u) || cow_hresult_equal(u, 0x8037010Eu) ||
         cow_hresult_equal(u, 0x8037011Fu) || u == 0x80070490u;
}
