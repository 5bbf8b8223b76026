"""Road mode: nearest station by travel time for every demo village, RoadNetwork vs networkx.

    .venv/bin/python benchmarks/road.py [--repeat 3]

Uses the demo prefecture (geo_service.app.demo.generate_demo). "After load" means the RoadNetwork
is built (graph, stations attached); the timed cold run includes the one multi-source
``scipy.sparse.csgraph.dijkstra`` precompute plus the lookup of every village, the warm run the
lookup alone. The baseline is networkx Dijkstra per village on the same graph
(``RoadNetwork.graph``): the village is joined to the feet of its snap as a temporary node and
``nx.multi_source_dijkstra`` runs from every station to it (stopping at the target, a strong
baseline); snapping and the straight-walk alternative are precomputed for it and not timed.
Answers are checked to be equal (travel time within 1e-6 relative).
"""

from __future__ import annotations

import argparse
import time

import networkx as nx
import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    from geo_service.app.demo import generate_demo
    from geo_service.core.network import RoadNetwork

    ds = generate_demo()
    vlon = ds.villages.geometry.x.to_numpy()
    vlat = ds.villages.geometry.y.to_numpy()
    t = time.perf_counter()
    net = RoadNetwork.from_dataset(ds)
    t_build = time.perf_counter() - t
    print(f"dataset: {ds.name}: {len(ds.villages)} villages, {len(ds.stations)} stations, "
          f"{len(ds.roads)} roads -> {net.n_road_nodes} road nodes, {len(net.ra)} segments")

    cold = []
    for _ in range(args.repeat):
        fresh = RoadNetwork.from_dataset(ds)
        t = time.perf_counter()
        res = fresh.nearest(vlon, vlat)
        cold.append(time.perf_counter() - t)
    t_cold = min(cold)
    warm = []
    for _ in range(args.repeat):
        t = time.perf_counter()
        res = net.nearest(vlon, vlat)
        warm.append(time.perf_counter() - t)
    t_warm = min(warm)

    # networkx baseline
    t = time.perf_counter()
    g = net.graph
    t_graph = time.perf_counter() - t
    xy = net.project(vlon, vlat)
    snap = net.snap(xy)
    walk_s = net.index.nearest_xy(xy).distance_m[:, 0] / (net.offroad_speed_kmh / 3.6)
    station_nodes = [int(n) for n in net.station_node]
    speed = net.offroad_speed_kmh / 3.6
    pairs: dict[int, list[tuple[int, float]]] = {}
    for p, sg, tt, d in zip(snap.pt, snap.seg, snap.t, snap.dist_m):
        a, b, T = int(net.ra[sg]), int(net.rb[sg]), float(net.rtime[sg])
        pairs.setdefault(int(p), []).extend([(a, d / speed + tt * T), (b, d / speed + (1 - tt) * T)])
    base = np.empty(len(vlon))
    t = time.perf_counter()
    for i in range(len(vlon)):
        q = ("village", i)
        for node, w in pairs[i]:
            if not g.has_edge(q, node) or g[q][node]["time_s"] > w:
                g.add_edge(q, node, time_s=max(w, 1e-6))
        try:
            dist, _ = nx.multi_source_dijkstra(g, station_nodes, target=q, weight="time_s")
        except nx.NetworkXNoPath:
            dist = np.inf
        g.remove_node(q)
        base[i] = min(dist, walk_s[i])
    t_nx = time.perf_counter() - t

    np.testing.assert_allclose(res.time_s, base, rtol=1e-6, atol=1e-3)
    t_mat = time.perf_counter()
    m = net.travel_time_matrix(ds.villages, ds.stations)
    t_mat = time.perf_counter() - t_mat
    np.testing.assert_allclose(m.min(axis=1), res.time_s, rtol=1e-6, atol=1e-3)
    t_sa = time.perf_counter()
    sa = net.service_areas((900, 1800))
    t_sa = time.perf_counter() - t_sa

    print(f"RoadNetwork build (after load)            {t_build * 1e3:9.1f} ms")
    print(f"all villages, cold (precompute + lookup)  {t_cold * 1e3:9.1f} ms")
    print(f"all villages, warm (lookup only)          {t_warm * 1e3:9.1f} ms")
    print(f"networkx Dijkstra per village             {t_nx * 1e3:9.1f} ms  (graph build {t_graph * 1e3:.0f} ms, untimed)")
    print(f"speed-up cold / warm                      {t_nx / t_cold:9.1f} x / {t_nx / t_warm:.0f} x")
    print(f"same answers: max |dt| = {np.max(np.abs(res.time_s - base)):.2e} s over {len(base)} villages")
    print(f"travel_time_matrix villages x stations    {t_mat * 1e3:9.1f} ms  ({m.shape[0]} x {m.shape[1]})")
    print(f"service areas, 900/1800 s, every station  {t_sa * 1e3:9.1f} ms  ({len(sa)} polygons)")


if __name__ == "__main__":
    main()
