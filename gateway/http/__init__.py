"""The edge every request crosses, whatever the front: ids, refusals, health."""
