"""The Qt desktop application: the only part of dpf_gui that imports Qt."""
