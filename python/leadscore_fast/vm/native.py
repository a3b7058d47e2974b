"""LLVM IR → machine code for the fused kernels (vm/fused_ir.py), with an on-disk object cache.

llvmlite is already here (numba is built on it). A module is optimised at -O3 for this CPU
(loop and SLP vectorisation on), emitted as an object file, and stored under a key made of the
program and layout, the generator's source, the CPU and llvmlite's version: a later process
loads the object instead of running LLVM again (and without generating the IR at all). Writes are atomic (temporary file + rename), so two processes filling the cache at
once cannot leave half a file; an unreadable or unwritable cache only costs the compile.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import llvmlite
import llvmlite.binding as llvm

from leadscore_fast.vm.cache import ensure_cache_dir, user_cache_dir

_LOCK = threading.Lock()
_STATE: dict = {}
_ENGINES: list = []  # every loaded object stays mapped for the life of the process


def _host():
    """LLVM's native target, initialised once; this CPU's name and features."""
    with _LOCK:
        if "cpu" not in _STATE:
            llvm.initialize_native_target()
            llvm.initialize_native_asmprinter()
            cpu, features = llvm.get_host_cpu_name(), llvm.get_host_cpu_features().flatten()
            _STATE.update(cpu_name=cpu, features=features,
                          cpu=f"{llvm.get_default_triple()} {cpu} {features}")
    return _STATE


def _target_machine():
    """A new target machine for this CPU, one per compile: nothing LLVM-side is shared with
    numba or with another compile (llvmlite also serialises its calls process-wide)."""
    _host()
    return llvm.Target.from_default_triple().create_target_machine(
        cpu=_STATE["cpu_name"], features=_STATE["features"], opt=3)


def cache_dir() -> Path:
    """Where fused kernels are cached: ``LEADSCORE_FUSED_CACHE``, else beside numba's cache
    (``NUMBA_CACHE_DIR`` or the per-user cache directory), in ``fused/``."""
    own = os.environ.get("LEADSCORE_FUSED_CACHE")
    if own:
        return Path(own)
    base = ensure_cache_dir()
    root = Path(base) if base else user_cache_dir()
    return root.parent / "fused" if root.name == "numba" else root / "fused"


_SOURCES = ("fused_ir.py", "fused_ops.py", "fused_row.py", "native.py")  # the generator: its text is part of every key


def key(*parts: bytes) -> str:
    """A cache key for a kernel: ``parts`` (the program and layout) plus what its machine
    code depends on besides: the generator's source, llvmlite's version and this CPU."""
    _host()
    source = _STATE.get("source")
    if source is None:
        here = Path(__file__).resolve().parent
        source = _STATE["source"] = hashlib.sha256(
            b"".join((here / name).read_bytes() for name in _SOURCES)).digest()
    h = hashlib.sha256(source)
    for part in (llvmlite.__version__.encode(), _STATE["cpu"].encode(), *parts):
        h.update(len(part).to_bytes(8, "little"))
        h.update(part)
    return h.hexdigest()[:40]


def compile_object(ir_text: str) -> bytes:
    """Machine code for ``ir_text``: optimised at -O3 for this CPU and emitted, in an LLVM
    context and target machine of its own (thread-safe)."""
    tm = _target_machine()
    mod = llvm.parse_assembly(ir_text, context=llvm.create_context())
    mod.triple = tm.triple  # the optimiser's cost models read the target from the module
    mod.data_layout = str(tm.target_data)
    mod.verify()
    pto = llvm.create_pipeline_tuning_options(speed_level=3)
    pto.loop_vectorization = True
    pto.slp_vectorization = True
    pb = llvm.create_pass_builder(tm, pto)
    pb.getModulePassManager().run(mod, pb)
    return tm.emit_object(mod)


_MAGIC = b"LSFK1"


def _read(path: Path) -> bytes | None:
    """The cached object, or None when absent or damaged (its checksum guards the loader,
    which is not built to read arbitrary bytes)."""
    try:
        raw = path.read_bytes()
    except OSError:
        return None
    head, digest, obj = raw[:5], raw[5:37], raw[37:]
    if head != _MAGIC or hashlib.sha256(obj).digest() != digest:
        return None
    return obj


def _write_atomic(path: Path, data: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".o")
        with os.fdopen(fd, "wb") as f:
            f.write(_MAGIC + hashlib.sha256(data).digest() + data)
        os.replace(tmp, path)
    except OSError:
        pass  # read-only or full disk: the kernel still runs, compiled again next process


def store(key: str, obj: bytes) -> None:
    """Put a compiled kernel in the disk cache (atomically; a failure only costs a compile)."""
    _write_atomic(cache_dir() / f"{key}.o", obj)


def load(key: str, make_ir, symbol: str, *, compile: bool = True) -> tuple[int, bool] | None:
    """The address of ``symbol`` in the kernel cached under ``key`` (see :func:`key`), and
    whether it came from the disk cache; compiled from ``make_ir()`` when not cached and
    ``compile`` is set, else None."""
    path = cache_dir() / f"{key}.o"
    obj = _read(path)
    cached = obj is not None
    if obj is None:
        if not compile:
            return None
        obj = compile_object(make_ir())
        _write_atomic(path, obj)
    return load_object(obj, symbol), cached


def load_object(obj: bytes, symbol: str) -> int:
    """Map compiled machine code into this process; the address of ``symbol`` in it."""
    tm = _target_machine()
    with _LOCK:  # the execution engines share the process's symbol resolution
        ee = llvm.create_mcjit_compiler(llvm.parse_assembly("", context=llvm.create_context()), tm)
        ee.add_object_file(llvm.ObjectFileRef.from_data(obj))
        ee.finalize_object()
        addr = ee.get_function_address(symbol)
        if not addr:
            raise RuntimeError(f"fused kernel: symbol {symbol} not found after compiling")
        _ENGINES.append(ee)
        return addr


class Compile:
    """A kernel compiling in a child process (``python -m leadscore_fast.vm.native``), which
    writes it to the disk cache: LLVM runs outside this process, so a process that ends before
    the compile does neither waits for it nor tears LLVM down under it, and the child still
    caches the kernel for the next one."""

    obj = None  # the machine code goes to the cache, not through this object

    def __init__(self, key: str, ir_text: str):
        self.path = cache_dir() / f"{key}.o"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, self.ir_path = tempfile.mkstemp(dir=self.path.parent, prefix=".ir-", suffix=".ll")
        with os.fdopen(fd, "w") as f:
            f.write(ir_text)
        self.err = tempfile.TemporaryFile()
        # the child imports the same leadscore_fast (also from a source checkout on sys.path)
        root = str(Path(__file__).resolve().parents[2])
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "leadscore_fast.vm.native", self.ir_path, str(self.path)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.err, env=env,
            start_new_session=True)

    def done(self) -> bool:
        return self.proc.poll() is not None

    def wait(self, timeout=None) -> bool:
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return False
        return True

    def error(self) -> str | None:
        """None when the child compiled the kernel, else why not (its last stderr line)."""
        if self.proc.returncode == 0 and _read(self.path) is not None:
            return None
        self.err.seek(0)
        lines = self.err.read().decode(errors="replace").strip().splitlines()
        return lines[-1] if lines else f"the compiler exited with {self.proc.returncode}"


def can_compile_out_of_process() -> bool:
    """Whether a child Python can compile kernels: an interpreter to run, a cache to write."""
    if not sys.executable or not os.access(sys.executable, os.X_OK):
        return False
    d = cache_dir()
    try:
        d.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(d, os.W_OK)


def _main(argv) -> int:
    """``python -m leadscore_fast.vm.native IR_FILE OBJECT_FILE``: compile, cache, tidy."""
    ir_path, obj_path = argv
    try:
        with open(ir_path) as f:
            obj = compile_object(f.read())
        _write_atomic(Path(obj_path), obj)
    except Exception as e:  # noqa: BLE001  reported by the parent (the last stderr line)
        first = (str(e).strip().splitlines() or [""])[0]
        print(f"{type(e).__name__}: {first}", file=sys.stderr)
        return 1
    finally:
        try:
            os.unlink(ir_path)
        except OSError:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
