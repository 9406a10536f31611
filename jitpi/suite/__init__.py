"""What the asv suite measured, and the code coupled to asv: its grid, the one reader of its
results, jitpi's page in the published site and the sweep across each compiler's releases."""
