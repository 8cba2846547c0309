"""Run as a separate process by `geomsci.core.io`: read a legacy .vtk or an XML .vtp file with VTK's own
readers and write its points, cells and data arrays to an .npz file.

VTK's C++ readers can crash the interpreter or loop for a long time on a corrupt file; in a child
process that becomes a one-line error in the parent. Imports only numpy and VTK (no torch).

Usage: python _vtk_child.py INPUT OUTPUT.npz legacy|vtp
Exit codes: 0 written; 3 VTK reported an error (message on stderr); 4 unusable data (message on stderr).
"""

import sys
from typing import Any

import numpy as np


def main(src: str, dst: str, kind: str) -> int:
    from vtkmodules.util.numpy_support import vtk_to_numpy
    from vtkmodules.vtkCommonCore import VTK_STRING, vtkLogger, vtkObject

    vtkObject.GlobalWarningDisplayOff()
    vtkLogger.SetStderrVerbosity(vtkLogger.VERBOSITY_OFF)
    # Any: the two reader classes share no stub base with the legacy reader's ReadAll*On methods
    reader_class: Any
    if kind == "vtp":
        from vtkmodules.vtkIOXML import vtkXMLPolyDataReader

        reader_class = vtkXMLPolyDataReader
    else:
        from vtkmodules.vtkIOLegacy import vtkDataSetReader

        reader_class = vtkDataSetReader
    messages = []

    def collect(obj, event, message=None):
        text = " ".join(str(message or "").split())
        text = text.split("): ", 1)[-1]  # drop VTK's "Class (0x...): " prefix
        messages.append(f"{obj.GetClassName()}: {text}"[:200])

    collect.CallDataType = VTK_STRING  # type: ignore[attr-defined]  # VTK reads this function attribute
    reader = reader_class()
    for obj in (reader, reader.GetExecutive()):
        obj.AddObserver("ErrorEvent", collect)
        obj.AddObserver("WarningEvent", collect)
    reader.SetFileName(src)
    if kind != "vtp":
        reader.ReadAllScalarsOn()
        reader.ReadAllVectorsOn()
        reader.ReadAllNormalsOn()
        reader.ReadAllTCoordsOn()
        reader.ReadAllFieldsOn()
    reader.Update()
    if messages:
        print(messages[0], file=sys.stderr)
        return 3
    data = reader.GetOutput()
    if data is None or data.GetPoints() is None or data.GetNumberOfPoints() == 0:
        print("the file holds no points", file=sys.stderr)
        return 4
    points = vtk_to_numpy(data.GetPoints().GetData())
    n = len(points)
    if hasattr(data, "GetPolys"):  # PolyData: cells are numbered verts, lines, polys, strips
        parts = []
        for arr, base in ((data.GetVerts(), 1), (data.GetLines(), 3), (data.GetPolys(), 7), (data.GetStrips(), 6)):
            if arr is None or arr.GetNumberOfCells() == 0:
                continue
            offsets = vtk_to_numpy(arr.GetOffsetsArray()).astype(np.int64)
            conn = vtk_to_numpy(arr.GetConnectivityArray()).astype(np.int64)
            if not _valid(offsets, conn, n):
                return 4
            sizes = np.diff(offsets)
            if base == 7:
                types = np.where(sizes == 3, 5, np.where(sizes == 4, 9, 7))
            elif base == 1:
                types = np.where(sizes == 1, 1, 2)
            elif base == 3:
                types = np.where(sizes == 2, 3, 4)
            else:
                types = np.full(len(sizes), 6)
            parts.append((types, offsets, conn))
        if not parts:
            types, offsets, conn = np.zeros(0, np.int64), np.zeros(1, np.int64), np.zeros(0, np.int64)
        else:
            types = np.concatenate([p[0] for p in parts])
            conn = np.concatenate([p[2] for p in parts])
            shift = np.cumsum([0] + [len(p[2]) for p in parts[:-1]])
            offsets = np.concatenate([p[1][:-1] + s for p, s in zip(parts, shift)] + [[len(conn)]])
    elif data.IsA("vtkUnstructuredGrid") and (data.GetCells() is None or data.GetNumberOfCells() == 0):
        types, offsets, conn = np.zeros(0, np.int64), np.zeros(1, np.int64), np.zeros(0, np.int64)  # a point set
    elif hasattr(data, "GetCells") and data.GetCells() is not None:
        cells = data.GetCells()
        offsets = vtk_to_numpy(cells.GetOffsetsArray()).astype(np.int64)
        conn = vtk_to_numpy(cells.GetConnectivityArray()).astype(np.int64)
        types = vtk_to_numpy(data.GetCellTypesArray()).astype(np.int64)
        if not _valid(offsets, conn, n) or len(types) != len(offsets) - 1:
            return 4
    else:
        print(
            f"VTK dataset type {data.GetClassName()} is not read here; convert it to an unstructured grid (.vtu)", file=sys.stderr
        )
        return 4
    arrays = {"points": points, "types": types, "offsets": offsets, "conn": conn}
    for prefix, fields in (("point:", data.GetPointData()), ("cell:", data.GetCellData())):
        for i in range(fields.GetNumberOfArrays()):
            arr = fields.GetArray(i)
            if arr is None or arr.GetName() is None:
                continue
            values = vtk_to_numpy(arr)
            if values.dtype.kind in "fiub":
                arrays[prefix + arr.GetName()] = values
    np.savez(dst, **arrays)
    return 0


def _valid(offsets, conn, n) -> bool:
    if len(offsets) == 0 or offsets[0] != 0 or offsets[-1] != len(conn) or (np.diff(offsets) < 0).any():
        print("the cell offsets do not match the connectivity (corrupt cell data)", file=sys.stderr)
        return False
    if len(conn) and (conn.min() < 0 or conn.max() >= n):
        print(f"a cell refers to point {int(conn.max())} but the file has {n} points", file=sys.stderr)
        return False
    return True


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
