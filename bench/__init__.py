"""``make bench`` and ``make bench-full``: how fast the kit is, against pgbench's baselines
measured on the same server in the same run.

One durable throwaway server (fsync and synchronous commit on) gets the kit's migrations,
pgbench's own tables and a no-op RPC, then realistic customers loaded with COPY in steps
(10k, 100k, 1M; 10M in the full run). At each size the returning-customer lookup is timed;
at 1M every workload runs at 1, 4 and 8 clients: ``pgbench -S``, the no-op RPC, the lookup,
the new-customer create, TPC-B-like and a realistic mix. Then the proxy against direct
psycopg, a profile of one lookup by function, and the plans of the hot statements. The
report goes to ``bench/RESULTS.md`` with a JSON twin and two PNG plots.

Modules: ``data`` (the generator and loader), ``workloads`` (pgbench), ``http`` (proxy vs
direct), ``plans`` (auto_explain), ``report`` (Markdown, JSON, plots), ``run`` (all of it).
"""
