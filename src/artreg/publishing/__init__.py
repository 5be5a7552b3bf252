"""The write side: what a registration or promotion writes and how it lands. A stage folder and
its files (`stagefolder`, `modelfolder`, `modelcard` with its `gatetable`, `charts`,
`deployment`), the name rules
of a write (`names`), registry.json (`index`), the commit-and-tag transaction (`transaction`,
`publish`), the CI files of `artreg init --ci` (`ci`) and the server-side hook (`serverhook`).
It may import `artifacts`, `registry`, `adapters` and `errors`; never `services` or `present`
(the read side never imports it). Docstring only: no re-exports.
"""
