"""The Python opcode constants must match the Rust opcode table they are generated from."""
from leadscore_fast import _engine
from leadscore_fast.vm import gen_opcodes, opcodes


def test_generated_opcodes_match_the_rust_table():
    table = _engine.opcode_table()
    expected = gen_opcodes.render(table, _engine.INSN_WIDTH, _engine.subop_names())
    current = open(opcodes.__file__).read()
    assert current == expected, "python/leadscore_fast/vm/opcodes.py is stale: run `make opcodes`"


def test_every_opcode_is_a_module_constant():
    for code, name, operands, _doc, _variant, _fusion in _engine.opcode_table():
        assert getattr(opcodes, name) == code
        assert opcodes.OPCODES[code] == (name, tuple(operands))


def test_the_opcode_facts_python_reads_come_from_the_table():
    # the sets the VM, the validator and the fused generator use are generated, not kept by hand
    from leadscore_fast.vm import check, fused, kernel

    table = _engine.opcode_table()
    assert kernel.CORE_OPCODES == {c for c, _n, _o, _d, v, _f in table if v == "core"}
    assert fused.UNFUSED_OPCODES == {c for c, _n, _o, _d, _v, f in table if f == "interp"}
    assert opcodes.COLUMN_OPCODES == {c for c, _n, o, _d, _v, _f in table if "col" in o}
    assert check.VM_OPCODES == {n for _c, n, _o, _d, _v, _f in table}
    assert dict(_engine.subop_names()) == {k: list(v) for k, v in opcodes.SUBOPS.items()}


def test_the_fused_generator_has_an_emitter_for_exactly_the_fused_opcodes():
    # one emitter per opcode (vm/fused_ops.py): the table's `fusion` column and the registry agree
    from leadscore_fast.vm.fused_ops import EMITTERS

    table = _engine.opcode_table()
    fused_ops = {n for _c, n, _o, _d, _v, f in table if f == "fused"}
    have = {opcodes.OPCODES[c][0] for c in EMITTERS}
    assert not fused_ops - have, (
        f"opcodes the table marks fused have no emitter: {sorted(fused_ops - have)}; add an "
        "@emits(O.NAME) function to python/leadscore_fast/vm/fused_ops.py (a transcription of "
        "its kernel.py helper), or mark the opcode `interp` in engine/src/opcodes.rs")
    assert not have - fused_ops, (
        f"emitters for opcodes the table marks interp: {sorted(have - fused_ops)}; mark them "
        "`fused` in engine/src/opcodes.rs and run `make opcodes`")
