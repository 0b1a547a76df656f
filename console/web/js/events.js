// One-line summaries of events, per dataset.
import { field } from "./dom.js";

// Per dataset: [dotted field, label] pairs for the one-line summary.
const SUMMARY_FIELDS = {
  modbus: [["modbus.function_code", "fc="], ["modbus.function_name", ""],
    ["modbus.exception_code", "exc="], ["modbus.exception_name", ""],
    ["modbus.transaction_id", "tid="], ["modbus.unit_id", "unit="]],
  dnp3: [["dnp3.function_code", "fc="], ["dnp3.source_address", "src="],
    ["dnp3.destination_address", "dst="]],
  s7comm: [["s7comm.rosctr", "rosctr="], ["s7comm.function", "fn="],
    ["s7comm.userdata_group", "group="], ["s7comm.userdata_subfunction", "sub="]],
  iec104: [["iec104.apci_type", ""], ["iec104.type_id", "type="], ["iec104.cot", "cot="],
    ["iec104.common_address", "ca="]],
  enip: [["enip.command", "cmd="], ["enip.session_handle", "session="], ["cip.service", "cip="]],
  opcua: [["opcua.message_type", ""], ["opcua.service", "service="]],
  bacnet: [["bacnet.bvlc_function", "bvlc="], ["bacnet.apdu_type", "apdu="],
    ["bacnet.service", "service="]],
  gtpu: [["gtp.message_type", "type="], ["gtp.teid", "teid="]],
  gtpv2: [["gtpv2.message_type", "type="], ["gtpv2.teid", "teid="],
    ["gtpv2.sequence", "seq="], ["gtpv2.cause", "cause="]],
  pfcp: [["pfcp.message_type", "type="], ["pfcp.seid", "seid="], ["pfcp.sequence", "seq="],
    ["pfcp.cause", "cause="], ["pfcp.node_id", "node="]],
  ngap: [["ngap.procedure_code", "proc="], ["ngap.pdu_type", ""],
    ["ngap.ran_ue_ngap_id", "ran_ue="], ["ngap.amf_ue_ngap_id", "amf_ue="]],
  nas5gs: [["nas5gs.message_type", "type="], ["nas5gs.security_header_type", "sht="]],
  sbi: [["http.request.method", ""], ["url.path", ""], ["http.response.status_code", "status="],
    ["sbi.service", ""]],
  diameter: [["diameter.command_code", "cmd="], ["diameter.application_id", "app="],
    ["diameter.is_request", "req="], ["diameter.result_code", "result="]],
  flow: [["network.transport", ""], ["source.packets", "pkts→"], ["source.bytes", "bytes→"],
    ["destination.packets", "pkts←"], ["destination.bytes", "bytes←"], ["flow.end_reason", ""],
    ["gtp.teid", "teid="], ["flow.weird_count", "weirds="]],
  weird: [["weird.name", ""], ["weird.analyzer", "analyzer="], ["weird.detail", ""],
    ["weird.count", "#"]],
};

function genericFields(event, dataset) {
  const ns = event[dataset];
  if (!ns || typeof ns !== "object") return [];
  return Object.entries(ns)
    .filter(([, value]) => value !== null && typeof value !== "object")
    .slice(0, 5)
    .map(([key]) => [`${dataset}.${key}`, `${key}=`]);
}

export function summary(event) {
  const dataset = field(event, "event.dataset") ?? "?";
  const parts = [];
  if (field(event, "event.kind") === "alert") parts.push(field(event, "rule.name") ?? "");
  for (const [name, label] of SUMMARY_FIELDS[dataset] ?? genericFields(event, dataset)) {
    const value = field(event, name);
    if (value !== undefined && value !== null) parts.push(`${label}${value}`);
  }
  return parts.filter((part) => part !== "").join(" ");
}
