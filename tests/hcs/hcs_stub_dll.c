/* A stand-in for computecore.dll (STUB_COMPUTECORE) or vmcompute.dll (STUB_VMCOMPUTE) that
 * exports only some of the functions libcow binds: an older or partial Windows, seen from
 * the binding. .ci/windows.sh copies both into the Wine prefix's System32 for the
 * hcs_win_bind_stub test (test_win_bind_stub.c) and removes them afterwards.
 *
 * The exports are the first few of each table in bind-win.c's binding order, plus one
 * later export: so the first missing name is a fixed one (below, and asserted by the
 * test), and a later export being present does not hide it. CowHcsStub marks the DLL as
 * ours, so that the test never mistakes a real Hyper-V DLL for the stub.
 *
 * No function is ever called: the binding fails before anything could use the table. The
 * signatures are therefore not the real ones (computecore.h is not included), and every
 * body answers E_NOTIMPL in case something calls one anyway. */
#define WIN32_LEAN_AND_MEAN
#include <windows.h>

#define STUB(name)                                                                                 \
  __declspec(dllexport) HRESULT WINAPI name(void);                                                 \
  HRESULT WINAPI name(void)                                                                        \
  {                                                                                                \
    return E_NOTIMPL;                                                                              \
  }

STUB(CowHcsStub)

#if defined(STUB_COMPUTECORE)
/* First missing export: HcsSetOperationContext. */
STUB(HcsCreateOperation)
STUB(HcsCloseOperation)
STUB(HcsGetOperationContext)
STUB(HcsCreateComputeSystem)
#elif defined(STUB_VMCOMPUTE)
/* First missing export: HcsCloseComputeSystem. */
STUB(HcsEnumerateComputeSystems)
STUB(HcsCreateComputeSystem)
STUB(HcsOpenComputeSystem)
STUB(HcsCreateProcess)
#else
#  error "define STUB_COMPUTECORE or STUB_VMCOMPUTE"
#endif
