"""Turn-taking, in the style of ``pipecat.turns``: who has the floor, and when it changes.

- ``patience``: how long to wait after the candidate stops, read from the answer so far;
- ``stop``: the stop strategy that prepares the reply while waiting (speculate early,
  commit late) and withdraws it when the candidate goes on;
- ``reply_gate``: holds a prepared reply after TTS until the turn is confirmed;
- ``barge_in``: whether the candidate may interrupt the line being spoken;
- ``smart_turn``: Smart Turn v3 on one shared ONNX session;
- ``strategies``: all of it as the user aggregator's parameters, from the persona.
"""
