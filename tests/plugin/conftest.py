"""The plugin's suites run in this process (pytester's ``runpytest``), which forgets every module
an inner run imported once it ends. PyYAML's C parser cannot be imported twice: a second import
of ``yaml`` keeps the first parser, whose nodes the new constructors do not recognise ("could not
determine a constructor for the tag None"). Loading ``yaml`` here keeps one copy for every run."""

import yaml  # noqa: F401  (imported for its side effect: one PyYAML for the whole session)
