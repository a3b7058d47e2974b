"""The Python opcode constants must match the Rust opcode table they are generated from."""
from leadscore_fast import _engine
from leadscore_fast.vm import gen_opcodes, opcodes


def test_generated_opcodes_match_the_rust_table():
    table = _engine.opcode_table()
    expected = gen_opcodes.render(table, _engine.INSN_WIDTH)
    current = open(opcodes.__file__).read()
    assert current == expected, "python/leadscore_fast/vm/opcodes.py is stale: run `make opcodes`"


def test_every_opcode_is_a_module_constant():
    for code, name, operands, _doc in _engine.opcode_table():
        assert getattr(opcodes, name) == code
        assert opcodes.OPCODES[code] == (name, tuple(operands))
