"""jitpi's views of its measurements: the formatting (``format``), the models behind every table
(``tables``) and their renderers (Markdown, HTML, charts), written once for every source."""
