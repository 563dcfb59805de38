"""The image wing: Detect elements, one photo per challenge.

A Detect element (`manak0/Detect-fire` [fire, smoke, fire extinguisher], vehicles, beverages...)
scores ONE photo per challenge on `0.6 map50 + 0.4 false_positive`. This package holds what only
such elements need: labelled photo sets read by class NAME onto the element's objects
(`labels`, `importer`), and the wing's steps on top of the common core (manifest, contract,
pillars, bundle, comply, chute, deploy, runs). The football wing (synthetic clips, pitch,
keypoints) lives beside it; neither imports the other.
"""
