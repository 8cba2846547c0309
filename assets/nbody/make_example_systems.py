"""Writes assets/nbody/example_triples.csv and example_triple_rebound.bin: `python assets/nbody/make_example_systems.py`
from the repository root (needs rebound). The CSV holds one triple of each family of benchmarks/nbody_other_triples.py;
the .bin is a hierarchical triple rebound builds from orbital elements, in its own (yr, AU, Msun) units (rebound writes
its wall time into the file, so its bytes change from run to run; the bodies do not)."""

import sys
from pathlib import Path

import rebound

sys.path.insert(0, "benchmarks")
from nbody_other_triples import SEED0, free_fall, hierarchical, unequal_masses  # noqa: E402

rows = ["system,body,x,y,z,vx,vy,vz,m"]
for k, make in enumerate((unequal_masses, hierarchical, free_fall)):
    m = make(SEED0 + 1)
    x, v, mass = m.points.numpy(), m.point_data["velocities"].numpy(), m.point_data["masses"].numpy()
    for i in range(3):
        rows.append(",".join([str(k), str(i)] + [repr(float(c)) for c in (*x[i], *v[i], mass[i])]))
open("assets/nbody/example_triples.csv", "w").write("\n".join(rows) + "\n")

sim = rebound.Simulation()
sim.units = ("yr", "AU", "Msun")  # rebound's own G in these units: 39.4769
sim.add(m=1.0)
sim.add(m=0.8, a=2.0, e=0.6)
sim.add(m=0.6, a=9.0, e=0.3, inc=0.5, omega=1.0, f=2.0)
sim.move_to_com()
Path("assets/nbody/example_triple_rebound.bin").unlink(missing_ok=True)  # rebound appends to an existing file
sim.save_to_file("assets/nbody/example_triple_rebound.bin")
