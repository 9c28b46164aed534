# HCS module: DLL API tables, UTF-16 helpers, the Windows binding and the Linux emulator.
cow_sources(common/utf16.c)
if(WIN32)
  cow_sources(common/bind-win.c)
endif()
if(COW_HCS_EMULATOR)
  cow_sources(
    emu/cmdline.c
    emu/emu-core.c
    emu/emu-notify.c
    emu/emu-reaper.c
    emu/emu-system.c
    emu/emu-process.c
    emu/emu-procfs.c
    emu/emu-faults.c
    emu/emu-computecore.c
    emu/emu-vmcompute.c)
endif()
