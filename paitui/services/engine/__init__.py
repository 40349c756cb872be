"""The container engine through the docker SDK: connect, create, build, events, streams."""
