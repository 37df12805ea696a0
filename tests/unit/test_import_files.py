"""Reading CSV files into import commands: line numbers, encodings, headers, limits."""

from __future__ import annotations

from stockline.domain.commands import CreateProduct
from stockline.domain.imports import ImportKind, LevelRow
from stockline.entrypoints.imports import read_file

P = ImportKind.PRODUCTS


def _errors(text: str | bytes, kind: ImportKind = P, **kwargs: int) -> list[tuple[int, str]]:
    data = text.encode() if isinstance(text, str) else text
    checked = read_file(kind, data, max_rows=kwargs.get("max_rows", 1000))
    return [(e.line, e.field) for e in checked.rejected]


def test_lines_are_counted_as_in_the_file_across_quoted_newlines_and_crlf() -> None:
    text = ('sku,name,category\r\n'
            'A,"one\r\ntwo\r\nthree",c\r\n'   # lines 2-4
            '\r\n'                            # line 5: blank, skipped
            'B,,c\r\n'                        # line 6: no name
            'C,name,c,extra\r\n')             # line 7: a cell too many
    assert _errors(text) == [(7, "file"), (6, "name")]
    checked = read_file(P, text.encode(), max_rows=10)
    assert [(row.line, row.value.sku) for row in checked.rows] == [(2, "A")]
    assert isinstance(checked.rows[0].value, CreateProduct)
    assert checked.rows[0].value.name == "one\r\ntwo\r\nthree"


def test_a_bom_is_dropped_and_bytes_that_are_not_utf8_are_named_by_line() -> None:
    checked = read_file(P, b"\xef\xbb\xbfsku,name,category\nA,N,c\n", max_rows=10)
    assert (checked.rejected, len(checked.rows)) == ((), 1)
    assert _errors(b"sku,name,category\nA,N,c\nB,\xff,c\n") == [(3, "file")]


def test_header_errors_name_the_columns() -> None:
    assert _errors("sku,name,colour,attr.size,price_amount\n") == [
        (1, "category"), (1, "colour"), (1, "price_currency")]
    assert _errors("sku,name,category,sku\nA,B,C,D\n") == [(1, "sku")]
    assert _errors("") == [(1, "file")]


def test_too_many_rows_stop_the_file_at_the_first_one_over() -> None:
    text = "sku,name,category\n" + "".join(f"S{n},N,c\n" for n in range(5))
    assert _errors(text, max_rows=3) == [(5, "file")]
    assert _errors(text, max_rows=5) == []


def test_cells_become_typed_values_the_body_models_check() -> None:
    checked = read_file(ImportKind.LEVELS, b"location_id,sku,on_hand,reorder_point\n"
                                           b"L1,S1,7,\nL1,S2,x,2\nL1,S3,-1,2\n", max_rows=10)
    assert [(e.line, e.field) for e in checked.rejected] == [(3, "on_hand"), (4, "on_hand")]
    row = checked.rows[0].value
    assert isinstance(row, LevelRow)
    assert (row.on_hand, row.settings and row.settings.reorder_point) == (7, None)
    stores = read_file(ImportKind.LOCATIONS, b"type,code,name,region,latitude\n"
                                             b"depot,A,N,,\nwarehouse,B,N,north,\n"
                                             b"store,C,N,,91\n", max_rows=10)
    assert [(e.line, e.field) for e in stores.rejected] == [
        (2, "type"), (3, "region"), (4, "latitude")]


def test_numbers_past_any_bound_are_refused_not_converted() -> None:
    huge = "9" * 5000  # int() itself refuses this many digits: the model must say no
    checked = read_file(ImportKind.LEVELS, f"location_id,sku,on_hand\nL,S,{huge}\nL,T,1e400\n"
                        .encode(), max_rows=10)
    assert [(e.line, e.field) for e in checked.rejected] == [(2, "on_hand"), (3, "on_hand")]
