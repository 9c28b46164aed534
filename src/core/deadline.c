/* Deadlines: one timer per loop over an intrusive binary min-heap (see deadline.h).
 *
 * The heap is a complete binary tree of nodes linked by pointers, with no array: position
 * n (1 is the root) is reached from the root by the bits of n below its top bit, read from
 * the highest, 0 going left and 1 right. Insertion links the node at position count+1 and
 * moves it up; removal puts the node at the last position in the place of the removed one
 * and moves it down, then up. Moving swaps two nodes' links, never their payloads.
 *
 * The timer is moved lazily: only an earlier deadline restarts it; a cancelled one leaves
 * it running, and when it fires for nothing it is pointed at the earliest deadline left. An
 * operation that completes before its timeout (nearly all) then costs a heap insertion and
 * removal, not a timer start and stop. The timer is referenced only while a deadline is
 * armed, so a stale one never keeps the loop running. */
#include "core/deadline.h"

#include <stddef.h>
#include <string.h>

#include "core/list.h"
#include "core/loop.h"

#define NOT_RUNNING UINT64_MAX /* timer_due while the loop's timer is stopped */

static struct cow__deadline *of(struct cow__heap_node *n)
{
  return cow__container_of(n, struct cow__deadline, node);
}

static int earlier(struct cow__heap_node *a, struct cow__heap_node *b)
{
  const struct cow__deadline *x = of(a), *y = of(b);
  return x->due < y->due || (x->due == y->due && x->seq < y->seq);
}

/* Exchange `child` with its parent `parent` in the tree. */
static void swap_with_parent(struct cow__loop *lp, struct cow__heap_node *parent,
                             struct cow__heap_node *child)
{
  struct cow__heap_node t = *parent;
  *parent = *child;
  *child = t;
  /* `child` now sits where `parent` was, with parent's old links, one of which pointed at
   * `child` itself: that one becomes `parent`. */
  parent->parent = child;
  struct cow__heap_node *sibling;
  if (child->left == child) {
    child->left = parent;
    sibling = child->right;
  } else {
    child->right = parent;
    sibling = child->left;
  }
  if (sibling != NULL)
    sibling->parent = child;
  if (parent->left != NULL)
    parent->left->parent = parent;
  if (parent->right != NULL)
    parent->right->parent = parent;
  if (child->parent == NULL)
    lp->dl_root = child;
  else if (child->parent->left == parent)
    child->parent->left = child;
  else
    child->parent->right = child;
}

/* The link that holds (or will hold) the node at position n. */
static struct cow__heap_node **slot(struct cow__loop *lp, unsigned n,
                                    struct cow__heap_node **parent)
{
  unsigned path = 0, depth = 0;
  for (; n >= 2; n >>= 1, depth++)
    path = path << 1 | (n & 1);
  struct cow__heap_node **link = &lp->dl_root;
  *parent = NULL;
  for (; depth > 0; depth--, path >>= 1) {
    *parent = *link;
    link = (path & 1) ? &(*link)->right : &(*link)->left;
  }
  return link;
}

static void heap_insert(struct cow__loop *lp, struct cow__heap_node *x)
{
  struct cow__heap_node *parent;
  struct cow__heap_node **link = slot(lp, ++lp->dl_count, &parent);
  x->left = x->right = NULL;
  x->parent = parent;
  *link = x;
  while (x->parent != NULL && earlier(x, x->parent))
    swap_with_parent(lp, x->parent, x);
}

static void heap_remove(struct cow__loop *lp, struct cow__heap_node *x)
{
  struct cow__heap_node *parent;
  struct cow__heap_node **link = slot(lp, lp->dl_count--, &parent);
  struct cow__heap_node *last = *link;
  *link = NULL;
  if (last == x) {
    if (lp->dl_root == x)
      lp->dl_root = NULL;
    return;
  }
  /* The last node takes x's place... */
  last->left = x->left;
  last->right = x->right;
  last->parent = x->parent;
  if (last->left != NULL)
    last->left->parent = last;
  if (last->right != NULL)
    last->right->parent = last;
  if (x->parent == NULL)
    lp->dl_root = last;
  else if (x->parent->left == x)
    x->parent->left = last;
  else
    x->parent->right = last;
  /* ...and moves down while a child is earlier, then up while its parent is later. */
  for (;;) {
    struct cow__heap_node *first = last;
    if (last->left != NULL && earlier(last->left, first))
      first = last->left;
    if (last->right != NULL && earlier(last->right, first))
      first = last->right;
    if (first == last)
      break;
    swap_with_parent(lp, last, first);
  }
  while (last->parent != NULL && earlier(last, last->parent))
    swap_with_parent(lp, last->parent, last);
}

static void on_timer(uv_timer_t *t);

/* Make the timer fire no later than `due`. */
static void run_timer_by(struct cow__loop *lp, uint64_t due)
{
  if (due >= lp->timer_due)
    return;
  uint64_t now = uv_now(lp->loop);
  uv_timer_start(&lp->timer, on_timer, due > now ? due - now : 0, 0);
  lp->timer_due = due;
}

static void on_timer(uv_timer_t *t)
{
  struct cow__loop *lp = t->data;
  uint64_t now = uv_now(lp->loop);
  lp->timer_due = NOT_RUNNING; /* a one-shot timer that fired is stopped */
  /* Deadlines armed by a fire callback for `now` or earlier wait for the next turn, as a
   * libuv timer started in a timer callback does: the loop cannot spin in here. */
  uint64_t last_seq = lp->dl_seq;
  while (lp->dl_root != NULL && of(lp->dl_root)->due <= now && of(lp->dl_root)->seq <= last_seq) {
    struct cow__deadline *d = of(lp->dl_root);
    heap_remove(lp, &d->node);
    if (lp->dl_count == 0)
      uv_unref((uv_handle_t *)&lp->timer);
    d->armed = 0;
    d->fire(d);
  }
  if (lp->dl_root != NULL)
    run_timer_by(lp, of(lp->dl_root)->due);
}

void cow__deadline_init(struct cow__deadline *d, void (*fire)(struct cow__deadline *d))
{
  memset(d, 0, sizeof *d);
  d->fire = fire;
}

void cow__deadline_arm(struct cow__loop *lp, struct cow__deadline *d, uint64_t ms)
{
  if (d->armed)
    heap_remove(lp, &d->node);
  else if (lp->dl_count == 0)
    uv_ref((uv_handle_t *)&lp->timer);
  uint64_t now = uv_now(lp->loop);
  d->due = ms > NOT_RUNNING - 1 - now ? NOT_RUNNING - 1 : now + ms;
  d->seq = ++lp->dl_seq;
  d->armed = 1;
  heap_insert(lp, &d->node);
  run_timer_by(lp, d->due);
}

void cow__deadline_cancel(struct cow__loop *lp, struct cow__deadline *d)
{
  if (!d->armed)
    return;
  d->armed = 0;
  heap_remove(lp, &d->node);
  if (lp->dl_count == 0) /* it may still run, for nothing: it keeps nothing alive */
    uv_unref((uv_handle_t *)&lp->timer);
}

int cow__deadlines_init(struct cow__loop *lp)
{
  lp->dl_root = NULL;
  lp->dl_count = 0;
  lp->dl_seq = 0;
  lp->timer_due = NOT_RUNNING;
  int rc = uv_timer_init(lp->loop, &lp->timer);
  if (rc == 0) {
    lp->timer.data = lp;
    uv_unref((uv_handle_t *)&lp->timer); /* referenced while a deadline is armed */
  }
  return rc;
}

/* Nodes under `n` (checked), or -1 when a link or the order is wrong. */
static long check_subtree(const struct cow__heap_node *n, const struct cow__heap_node *parent)
{
  if (n == NULL)
    return 0;
  if (n->parent != parent || !of((struct cow__heap_node *)n)->armed)
    return -1;
  if (parent != NULL && earlier((struct cow__heap_node *)n, (struct cow__heap_node *)parent))
    return -1;
  long l = check_subtree(n->left, n), r = check_subtree(n->right, n);
  return l < 0 || r < 0 ? -1 : 1 + l + r;
}

int cow__deadlines_valid(const struct cow__loop *lp)
{
  return check_subtree(lp->dl_root, NULL) == (long)lp->dl_count;
}
