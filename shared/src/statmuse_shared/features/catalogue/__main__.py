"""`python -m statmuse_shared.features.catalogue [--check]`: see `document.main`."""

from statmuse_shared.features.catalogue.document import main

main()
