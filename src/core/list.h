/* Internal: a circular doubly-linked intrusive list (the shape of libuv's queue). */
#ifndef COW_CORE_LIST_H
#define COW_CORE_LIST_H

#include <stddef.h>

typedef struct cow__list {
  struct cow__list *next;
  struct cow__list *prev;
} cow__list;

#define cow__container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

static inline void cow__list_init(cow__list *l)
{
  l->next = l->prev = l;
}

static inline int cow__list_empty(const cow__list *l)
{
  return l->next == l;
}

static inline void cow__list_insert_tail(cow__list *head, cow__list *n)
{
  n->prev = head->prev;
  n->next = head;
  head->prev->next = n;
  head->prev = n;
}

static inline void cow__list_remove(cow__list *n)
{
  n->prev->next = n->next;
  n->next->prev = n->prev;
  n->next = n->prev = n;
}

/* Move every node of `from` to the tail of `to`; `from` ends empty. */
static inline void cow__list_move(cow__list *from, cow__list *to)
{
  if (cow__list_empty(from))
    return;
  from->next->prev = to->prev;
  to->prev->next = from->next;
  from->prev->next = to;
  to->prev = from->prev;
  cow__list_init(from);
}

#endif
