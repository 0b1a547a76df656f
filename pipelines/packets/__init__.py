"""An alert's packets: sliced from the capture file a replay read, or from the live sensor's
rolling packet buffer, and written as a pcap (:func:`~pipelines.packets.export.alert_pcap`)."""
