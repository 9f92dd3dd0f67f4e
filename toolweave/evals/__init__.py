"""The evaluation harness: registries, suites, strategies, metrics, runs and reports.

- The case model: `cases` (`EvalCase`, `Gold`, `Missing`, `Suite`).
- Where cases and tools come from: `registries` (the datasets' tool registries),
  `suites` (every built-in suite), with the suites' own loaders `shortcuts`,
  `workflow`, `countries` (real tools, checked answers) and `usercases` (a JSONL file
  of your own); `simulate` stands in for the tools that only have descriptions.
- What is compared: `strategies` (llmcompiler, the oracles), with the baseline loops
  `react` and `parallel_fc` (sharing `_loop_calls`); each fills a `trace.Trace`.
- Scoring and running: `metrics`, `runner` (and `_ray_sweep` on Ray), `report` and
  `plots`; `retrieval` measures the retriever on its own.

The top layer, with `toolweave.cli`: it may import every layer below it (the agent
included); nothing in toolweave imports it but the command line.
"""
