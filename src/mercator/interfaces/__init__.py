"""How results reach people and programs: the command line (``cli``), the HTML report and
result pages (``report``) and the REST API (``api``). Renderers only: each command or route
calls one public analysis and renders its Result."""
