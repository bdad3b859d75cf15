"""Stage 3, F3D and yaw: the stylecode -> coefficient MLP, the SVM yaw direction in W space and the Fyaw step
size.
"""
