"""The plugin's suites run in this process (pytester's ``runpytest``), which forgets every module
an inner run imported once it ends. Two kinds of module must therefore be loaded before any run:

- PyYAML's C parser cannot be imported twice: a second import of ``yaml`` keeps the first parser,
  whose nodes the new constructors do not recognise ("could not determine a constructor for the
  tag None").
- reader-mock loads some of its modules on first use. One first loaded inside a run is forgotten
  after it while the modules loaded before keep its classes, so the next run's fresh copy holds
  classes the others do not recognise (a timeline step that matches none of the player's cases).
  Whether that happens depended on which tests of this process ran first.

Loading both here keeps one copy of each for every run."""

import importlib
import pkgutil

import yaml  # noqa: F401  (imported for its side effect: one PyYAML for the whole session)

import reader_mock

for _module in pkgutil.walk_packages(reader_mock.__path__, "reader_mock."):
    if not _module.name.endswith(".__main__"):  # the command itself, which would run
        importlib.import_module(_module.name)
