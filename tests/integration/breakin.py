#!/usr/bin/python3
# breakin.py [-c] PID TID FUNCTION SECONDS [FUNCTION2 SECONDS2]: stop thread
# TID of process PID when it enters FUNCTION (a breakpoint, ptrace; the
# other threads run on), then hold it there for SECONDS and let it go
# on.  It prints "armed" once the breakpoint is set, "stopped" once the
# thread reached it, and "resumed" when it lets it go, after SECONDS or
# at SIGTERM (nothing if the process ended meanwhile).  With FUNCTION2,
# the thread is not let go but sent on to FUNCTION2's breakpoint, held
# there SECONDS2 ("stopped2"), then let go: the second stop comes before
# anything else the thread does between the two.  A FUNCTION is a symbol
# of the executable (nm), which no other thread may enter meanwhile:
# they would die of the SIGTRAP.
# With -c (one FUNCTION), as it lets the thread go it first makes the
# thread close the descriptor in FUNCTION's first argument (a close()
# run in it: a syscall instruction in place of the trap for one step),
# so that FUNCTION finds it gone; it prints "closed FD: RESULT" first.
# x86-64 only (exit 77 elsewhere).  For test_callhang.sh: a worker
# hung inside a reload, deterministically, as stall.py cannot; for
# test_dead.sh: a worker whose queue's socket fails under it.
#
# Copyright (C) 2026 The nfqspid authors
# SPDX-License-Identifier: GPL-2.0-or-later
import ctypes, os, platform, signal, subprocess, sys, time

if platform.machine() != "x86_64":
    print("breakin.py: x86-64 only")
    sys.exit(77)
libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p,
                        ctypes.c_void_p]
libc.ptrace.restype = ctypes.c_long
PEEKTEXT, POKETEXT, CONT, SINGLESTEP, DETACH = 1, 4, 7, 9, 17
GETREGS, SETREGS, SEIZE, INTERRUPT = 12, 13, 0x4206, 0x4207
WALL = 0x40000000
RAX, RDI, RIP = 10, 14, 16          # in user_regs_struct
SYS_CLOSE = 3


class Regs(ctypes.Structure):
    _fields_ = [("r", ctypes.c_ulong * 27)]


def die(what):
    print("%s: %s" % (what, os.strerror(ctypes.get_errno())), flush=True)
    sys.exit(1)


def address(pid, exe, func):
    """FUNCTION's address in PID: nm's value, plus the load address of
    a position-independent executable (its mapping at offset 0)."""
    out = subprocess.run(["nm", exe], capture_output=True, text=True,
                         check=True).stdout
    sym = [int(l.split()[0], 16) for l in out.splitlines()
           if len(l.split()) == 3 and l.split()[2] == func]
    if len(sym) != 1:
        print("%s: %d symbols %s" % (exe, len(sym), func))
        sys.exit(1)
    with open(exe, "rb") as f:
        pie = f.read(18)[16] == 3           # e_type ET_DYN
    if not pie:
        return sym[0]
    real = os.path.realpath(exe)
    with open("/proc/%d/maps" % pid) as f:
        for l in f:
            p = l.split()
            if len(p) >= 6 and p[5] == real and int(p[2], 16) == 0:
                return int(p[0].split("-")[0], 16) + sym[0]
    print("%s: not mapped in %d" % (real, pid))
    sys.exit(1)


def arm(addr):
    """A trap at addr; the word it replaced."""
    ctypes.set_errno(0)
    word = libc.ptrace(PEEKTEXT, tid, addr, None)
    if ctypes.get_errno() != 0:
        die("peek")
    trap = (word & ~0xff) | 0xcc
    if libc.ptrace(POKETEXT, tid, addr, trap & 0xffffffffffffffff) != 0:
        die("poke")
    return word


def trapped():
    """Runs the thread to its trap; False if the process ended."""
    if libc.ptrace(CONT, tid, None, None) != 0:
        die("cont")
    while True:
        _, st = os.waitpid(tid, WALL)
        if os.WIFEXITED(st) or os.WIFSIGNALED(st):
            return False
        sig = os.WSTOPSIG(st)
        if sig == signal.SIGTRAP:
            return True
        # anything else goes on to the thread as it came
        libc.ptrace(CONT, tid, None, sig if st >> 16 == 0 else 0)


def untrap(addr, word):
    """The instruction back, and the thread back on it."""
    regs = Regs()
    if libc.ptrace(POKETEXT, tid, addr, word & 0xffffffffffffffff) != 0 \
            or libc.ptrace(GETREGS, tid, None, ctypes.byref(regs)) != 0:
        return False
    regs.r[RIP] -= 1
    return libc.ptrace(SETREGS, tid, None, ctypes.byref(regs)) == 0


def close_arg(addr, word):
    """The thread, stopped at its trap at addr, runs close(its first
    argument) there; then it is back as it was, trap and all."""
    regs, saved = Regs(), Regs()
    if libc.ptrace(GETREGS, tid, None, ctypes.byref(saved)) != 0:
        return
    ctypes.memmove(ctypes.byref(regs), ctypes.byref(saved),
                   ctypes.sizeof(regs))
    fd = regs.r[RDI]
    regs.r[RIP], regs.r[RAX] = addr, SYS_CLOSE
    syscall = (word & ~0xffff) | 0x050f
    if libc.ptrace(POKETEXT, tid, addr, syscall & 0xffffffffffffffff) \
            != 0 or libc.ptrace(SETREGS, tid, None, ctypes.byref(regs)) != 0 \
            or libc.ptrace(SINGLESTEP, tid, None, None) != 0:
        die("close")
    os.waitpid(tid, WALL)
    libc.ptrace(GETREGS, tid, None, ctypes.byref(regs))
    trap = (word & ~0xff) | 0xcc
    libc.ptrace(POKETEXT, tid, addr, trap & 0xffffffffffffffff)
    libc.ptrace(SETREGS, tid, None, ctypes.byref(saved))
    print("closed %d: %d" % (fd, ctypes.c_long(regs.r[RAX]).value),
          flush=True)


closing = sys.argv[1] == "-c"
args = sys.argv[2:] if closing else sys.argv[1:]
pid, tid = int(args[0]), int(args[1])
stops = [(args[k], float(args[k + 1]))
         for k in range(2, len(args) - 1, 2)]
addrs = [address(pid, "/proc/%d/exe" % pid, f) for f, _ in stops]
if libc.ptrace(SEIZE, tid, None, None) != 0 or \
        libc.ptrace(INTERRUPT, tid, None, None) != 0:
    die("ptrace")
os.waitpid(tid, WALL)
word = arm(addrs[0])
print("armed", flush=True)
if not trapped():
    sys.exit(0)
print("stopped", flush=True)
# SIGTERM lets it go at once (a tracer's end would leave the trap in)
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
at = addrs[0]
try:
    time.sleep(stops[0][1])
    if len(stops) > 1:
        if not untrap(at, word):
            sys.exit(0)
        at, word = addrs[1], arm(addrs[1])
        if not trapped():
            at = None
            sys.exit(0)
        print("stopped2", flush=True)
        time.sleep(stops[1][1])
finally:
    if at is not None and closing:
        close_arg(at, word)
    if at is not None and untrap(at, word):
        libc.ptrace(DETACH, tid, None, None)
        print("resumed", flush=True)
