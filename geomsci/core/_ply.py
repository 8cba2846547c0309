"""PLY reading and writing with numpy: ascii and binary (little- and big-endian), every property kept.

Used by `geomsci.core.io`. A PLY file is a header that declares elements (``vertex``, ``face``, ...)
with typed properties, followed by the element rows::

    ply
    format binary_little_endian 1.0        (or ascii 1.0, binary_big_endian 1.0)
    element vertex 8
    property float x                       scalar property: one value per row
    property list uchar float velocity     list property: a count, then that many values
    element face 6
    property list uchar int vertex_indices
    end_header
    <rows>

The reader returns plain numpy arrays; `io.load` turns them into a `Mesh`. Errors are ``ValueError``
with one line saying what is wrong (the caller prefixes the file name).
"""

from __future__ import annotations

import numpy as np

PLY_TYPES = {
    "char": "i1",
    "int8": "i1",
    "uchar": "u1",
    "uint8": "u1",
    "short": "i2",
    "int16": "i2",
    "ushort": "u2",
    "uint16": "u2",
    "int": "i4",
    "int32": "i4",
    "uint": "u4",
    "uint32": "u4",
    "float": "f4",
    "float32": "f4",
    "double": "f8",
    "float64": "f8",
}
_NAME_OF = {"i1": "char", "u1": "uchar", "i2": "short", "u2": "ushort", "i4": "int", "u4": "uint", "f4": "float", "f8": "double"}
_MAX_HEADER = 1 << 20  # a header longer than 1 MiB is not a PLY header
FACE_LISTS = ("vertex_indices", "vertex_index")


class Element:
    """One ``element`` of the header: name, row count and properties [(name, dtype, count dtype or None)]."""

    def __init__(self, name: str, count: int):
        self.name, self.count = name, count
        self.properties: list[tuple[str, str, str | None]] = []

    @property
    def has_lists(self) -> bool:
        return any(c is not None for _, _, c in self.properties)


def parse_header(buf: bytes) -> tuple[str, list[Element], int]:
    """(format, elements, offset of the first data byte)."""
    if not buf.startswith(b"ply"):
        raise ValueError("does not start with 'ply'")
    end = buf.find(b"end_header", 0, _MAX_HEADER)
    if end < 0:
        raise ValueError("no 'end_header' line in the first MiB")
    nl = buf.find(b"\n", end)
    if nl < 0:
        raise ValueError("nothing after 'end_header'")
    try:
        lines = buf[:end].decode("ascii").splitlines()
    except UnicodeDecodeError:
        raise ValueError("the header holds non-ASCII bytes") from None
    fmt, elements = None, []
    for number, line in enumerate(lines[1:], start=2):
        words = line.split()
        if not words or words[0] in ("comment", "obj_info"):
            continue
        head = words[0]
        if head == "format":
            if len(words) != 3 or words[1] not in ("ascii", "binary_little_endian", "binary_big_endian"):
                raise ValueError(f"header line {number}: unknown format {line.strip()!r}")
            fmt = words[1]
        elif head == "element":
            if len(words) != 3 or not words[2].isdigit():
                raise ValueError(f"header line {number}: expected 'element NAME COUNT', got {line.strip()!r}")
            elements.append(Element(words[1], int(words[2])))
        elif head == "property":
            if not elements:
                raise ValueError(f"header line {number}: property before any element")
            if len(words) == 3 and words[1] in PLY_TYPES:
                elements[-1].properties.append((words[2], PLY_TYPES[words[1]], None))
            elif len(words) == 5 and words[1] == "list" and words[2] in PLY_TYPES and words[3] in PLY_TYPES:
                if PLY_TYPES[words[2]][0] == "f":
                    raise ValueError(f"header line {number}: list count type must be an integer, got {words[2]!r}")
                elements[-1].properties.append((words[4], PLY_TYPES[words[3]], PLY_TYPES[words[2]]))
            else:
                raise ValueError(f"header line {number}: cannot parse property {line.strip()!r}")
        else:
            raise ValueError(f"header line {number}: unknown keyword {head!r}")
    if fmt is None:
        raise ValueError("no 'format' line in the header")
    for e in elements:
        names = [p[0] for p in e.properties]
        if len(set(names)) != len(names):
            raise ValueError(f"element {e.name!r} repeats a property name ({names})")
    return fmt, elements, nl + 1


def read(buf: bytes) -> tuple[list[Element], dict[str, dict[str, np.ndarray | list]]]:
    """Parse a whole PLY file held in ``buf``.

    Returns the header's elements and ``{element: {property: values}}``: scalar properties as
    arrays (count,), list properties as arrays (count, k) when every row has k items, otherwise as a
    list of per-row arrays. Values keep the file's types, in native byte order.
    """
    fmt, elements, offset = parse_header(buf)
    data: dict[str, dict] = {}
    if fmt == "ascii":
        tokens = buf[offset:].split()
        pos = 0
        for e in elements:
            data[e.name], pos = _read_ascii(e, tokens, pos)
    else:
        order = "<" if fmt == "binary_little_endian" else ">"
        for e in elements:
            data[e.name], offset = _read_binary(e, buf, offset, order)
    return elements, data


def _row_size(props, order, k=None) -> np.dtype:
    fields: list[tuple] = []
    for name, dt, count in props:
        if count is None:
            fields.append((name, order + dt))
        else:
            fields.append(("__n_" + name, order + count))
            fields.append((name, order + dt, (k,)))
    return np.dtype(fields)


def _read_binary(e: Element, buf: bytes, offset: int, order: str):
    left = len(buf) - offset
    if not e.has_lists:
        dt = _row_size(e.properties, order)
        need = dt.itemsize * e.count
        if need > left:
            raise ValueError(f"truncated: element {e.name!r} needs {need} bytes for {e.count} rows, {left} left")
        rows = np.frombuffer(buf, dt, e.count, offset)
        return {name: _native(rows[name]) for name, _, _ in e.properties}, offset + need
    if e.count == 0:
        return {name: np.zeros((0, 0) if c is not None else 0, dtype=dt) for name, dt, c in e.properties}, offset
    # fast path: every list in the element holds as many items as in the first row
    ks = _first_row_counts(e, buf, offset, order)
    if ks is not None and len(set(ks)) == 1:
        dt = _row_size(e.properties, order, ks[0])
        need = dt.itemsize * e.count
        if need <= left:
            rows = np.frombuffer(buf, dt, e.count, offset)
            if all((rows["__n_" + name] == ks[0]).all() for name, _, c in e.properties if c is not None):
                return {name: _native(rows[name]) for name, _, _ in e.properties}, offset + need
    return _read_binary_rows(e, buf, offset, order)


def _first_row_counts(e: Element, buf: bytes, offset: int, order: str):
    ks = []
    for _name, dt, count in e.properties:
        if count is None:
            offset += np.dtype(dt).itemsize
            continue
        cdt = np.dtype(order + count)
        if offset + cdt.itemsize > len(buf):
            return None
        k = int(np.frombuffer(buf, cdt, 1, offset)[0])
        if k < 0:
            return None
        ks.append(k)
        offset += cdt.itemsize + k * np.dtype(dt).itemsize
    return ks


def _read_binary_rows(e: Element, buf: bytes, offset: int, order: str):
    """Row by row, for lists of varying length (polygons of several sizes)."""
    out: dict[str, list] = {name: [] for name, _, _ in e.properties}
    n = len(buf)
    for _ in range(e.count):
        for name, dt, count in e.properties:
            if count is None:
                size = np.dtype(dt).itemsize
                if offset + size > n:
                    raise ValueError(f"truncated: element {e.name!r} ends before its {e.count} rows")
                out[name].append(np.frombuffer(buf, order + dt, 1, offset)[0])
                offset += size
            else:
                cdt = np.dtype(order + count)
                if offset + cdt.itemsize > n:
                    raise ValueError(f"truncated: element {e.name!r} ends before its {e.count} rows")
                k = int(np.frombuffer(buf, cdt, 1, offset)[0])
                offset += cdt.itemsize
                size = k * np.dtype(dt).itemsize
                if k < 0 or offset + size > n:
                    raise ValueError(f"truncated or corrupt: a list of {k} items in element {e.name!r} runs past the file end")
                out[name].append(_native(np.frombuffer(buf, order + dt, k, offset)))
                offset += size
    result = {}
    for name, dt, count in e.properties:
        result[name] = np.array(out[name], dtype=dt) if count is None else out[name]
    return result, offset


def _read_ascii(e: Element, tokens: list[bytes], pos: int):
    if e.count == 0:
        return {name: np.zeros((0, 0) if c is not None else 0, dtype=dt) for name, dt, c in e.properties}, pos
    # fast path: fixed row width (no lists, or lists as long as in the first row)
    width, ks, p = 0, [], pos
    try:
        for _name, _dt, count in e.properties:
            if count is None:
                width += 1
                p += 1
            else:
                k = int(tokens[p])
                ks.append(k)
                width += 1 + k
                p += 1 + k
    except (IndexError, ValueError):
        raise ValueError(f"truncated or corrupt: element {e.name!r} has no complete first row") from None
    need = width * e.count
    if len(set(ks)) <= 1 and pos + need <= len(tokens):
        table = _numbers(tokens[pos : pos + need], e.name).reshape(e.count, width)
        col, out, ok = 0, {}, True
        for name, dt, count in e.properties:
            if count is None:
                out[name] = _cast(table[:, col], dt, e.name, name)
                col += 1
            else:
                if not (table[:, col] == ks[0]).all():
                    ok = False
                    break
                out[name] = _cast(table[:, col + 1 : col + 1 + ks[0]], dt, e.name, name)
                col += 1 + ks[0]
        if ok:
            return out, pos + need
    # row by row: lists of varying length
    rows: dict[str, list] = {name: [] for name, _, _ in e.properties}
    try:
        for _ in range(e.count):
            for name, dt, count in e.properties:
                if count is None:
                    rows[name].append(float(tokens[pos]))
                    pos += 1
                else:
                    k = int(tokens[pos])
                    if k < 0 or pos + 1 + k > len(tokens):
                        raise IndexError
                    rows[name].append(_cast(_numbers(tokens[pos + 1 : pos + 1 + k], e.name), dt, e.name, name))
                    pos += 1 + k
    except (IndexError, ValueError):
        raise ValueError(f"truncated or corrupt: element {e.name!r} ends before its {e.count} rows") from None
    return {
        name: (_cast(np.array(rows[name]), dt, e.name, name) if count is None else rows[name]) for name, dt, count in e.properties
    }, pos


def _numbers(tokens, element) -> np.ndarray:
    try:
        return np.array(tokens, dtype=np.float64) if tokens else np.zeros(0)
    except ValueError:
        bad = next((t for t in tokens if not _is_number(t)), b"?")
        raise ValueError(f"element {element!r} holds a value that is not a number: {bad[:20]!r}") from None


def _is_number(t) -> bool:
    try:
        float(t)
        return True
    except ValueError:
        return False


def _cast(values: np.ndarray, dt: str, element: str, name: str) -> np.ndarray:
    if dt[0] in "iu":
        if not np.isfinite(values).all() or (values != np.round(values)).any():
            raise ValueError(f"element {element!r} property {name!r} is declared integer but holds {values.ravel()[:1]}")
        info = np.iinfo(dt)
        if values.size and (values.min() < info.min or values.max() > info.max):
            raise ValueError(f"element {element!r} property {name!r} holds values outside the {_NAME_OF[dt]} range")
    return values.astype(dt)


def _native(a: np.ndarray) -> np.ndarray:
    """Native byte order; a strided, read-only view of the file buffer when it already is (the caller
    makes the one copy it needs, in the dtype it needs)."""
    if a.dtype.byteorder not in ("=", "|"):
        a = a.astype(a.dtype.newbyteorder("="))
    return a


# -- writing ----------------------------------------------------------------------------------------
def write(
    path,
    vertex: list[tuple[str, np.ndarray]],
    face: list[tuple[str, np.ndarray]] | None,
    faces: np.ndarray | None,
    comment: str = "written by geomsci",
) -> None:
    """Write a binary little-endian PLY.

    ``vertex``: [(property name, values (N,) or (N, k))], x, y, z first; (N, k) values become a list
    property. ``faces``: (F, c) integer vertex indices (or None for a point set), written as
    ``vertex_indices``; ``face``: further per-face properties in the same form.
    """
    n = len(vertex[0][1])
    header = ["ply", "format binary_little_endian 1.0", f"comment {comment}", f"element vertex {n}"]
    vrow = _rows(vertex, header)
    if faces is not None:
        header.append(f"element face {len(faces)}")
        fprops = [("vertex_indices", faces.astype(np.int32, copy=False))] + list(face or [])
        frow = _rows(fprops, header)
    header.append("end_header")
    with open(path, "wb") as fh:
        fh.write(("\n".join(header) + "\n").encode("ascii"))
        vrow.tofile(fh)
        if faces is not None:
            frow.tofile(fh)


def _rows(props, header: list[str]) -> np.ndarray:
    """Fill one structured array with the properties (declaring them in ``header``)."""
    fields: list[tuple] = []
    fill: list[tuple] = []
    for name, values in props:
        values = np.asarray(values)
        code = values.dtype.str[1:]
        if code not in _NAME_OF:
            raise ValueError(f"property {name!r} has dtype {values.dtype}, which PLY cannot store")
        if values.ndim == 1:
            header.append(f"property {_NAME_OF[code]} {name}")
            fields.append((name, "<" + code))
        else:
            k = values.shape[1]
            count = "u1" if k < 256 else "<i4"
            header.append(f"property list {'uchar' if k < 256 else 'int'} {_NAME_OF[code]} {name}")
            fields.append(("__n_" + name, count))
            fields.append((name, "<" + code, (k,)))
            fill.append(("__n_" + name, k))
        fill.append((name, values))
    rows = np.empty(len(props[0][1]), dtype=np.dtype(fields))
    for name, values in fill:
        rows[name] = values
    return rows
