"""NIR both ways: our networks as NIR graphs, and foreign NIR graphs to Loihi fixed point.

Export: ``export`` (the trained float SCNN), ``from_network`` (a fixed-point
``scnn.sim.network.Network`` in integer units). Import: ``graph`` (read and check a
chain) -> ``ops`` / ``chain`` (linear nodes folded into synapses) -> ``lower``
(discrete-time float layers) -> ``quantize`` (a ``Network``) -> ``check``
(float vs fixed agreement, with ``floatsim``); ``importer`` runs the whole flow
for ``scnn import``. ``torchrun`` executes a graph in nirtorch with snntorch neurons.
"""
