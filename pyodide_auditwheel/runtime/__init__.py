"""What each Pyodide release is and does, as data and as a model: the ABIs and their tags
(:mod:`.abi`, ``data/abis.json``), what a runtime offers a side module's imports
(:mod:`.offers`, ``data/runtimes/``, written by :mod:`.generate`), and its loader
(:mod:`.loader`): how it reads ``dylink.0``, finds a library and installs a wheel."""
