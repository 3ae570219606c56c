// smsc.js plays a mobile operator's SMSC for Kannel's SMPP client, with the
// npm package smpp@0.5.1 in server mode. peertest starts it as
//
//   node smsc.js PORT SYSTEM_ID PASSWORD
//
// It accepts Kannel's bind (transceiver, transmitter or receiver), answers
// enquire_link, and speaks JSON lines:
//   stdout, one event per line:
//     {"event":"listening","port":N}
//     {"event":"bound","command":"bind_transceiver","system_id":"..."}
//     {"event":"submit_sm","from":"...","to":"...","text":"...","udh":"",
//      "data_coding":0,"esm_class":0,"ussd_service_op":2,
//      "its_session_info":"0102","message_id":"..."}
//       (ussd_service_op is -1, its_session_info and udh "" when absent;
//       text is decoded after data_coding, without the udh)
//     {"event":"deliver_sm_resp","ref":"...","status":0}
//   stdin, one command per line:
//     {"cmd":"deliver","ref":"...","from":"...","to":"...","text":"...",
//      "ussd_service_op":1,"its_session_info":"0102"}
//       sends a deliver_sm (an MO message, or a USSD request when the TLVs
//       are given) on the receiving session.
// A submit_sm asking for a delivery receipt (registered_delivery & 1) is
// answered with a receipt deliver_sm (stat:DELIVRD) right after its resp.
'use strict';

const readline = require('readline');
const smpp = require('smpp');

const port = Number(process.argv[2]);
const systemID = process.argv[3] || 'kannel';
const password = process.argv[4] || 'secret';

function emit(obj) {
	process.stdout.write(JSON.stringify(obj) + '\n');
}

// Sessions Kannel bound that may receive deliver_sm (rx or trx), newest last.
const receivers = [];
let nextID = 1;

// decodeText returns the submit_sm's text as a string, whatever its coding.
function decodeText(pdu) {
	const sm = pdu.short_message;
	let payload = sm;
	if (pdu.message_payload) {
		payload = pdu.message_payload;
	}
	if (payload && typeof payload === 'object' && !Buffer.isBuffer(payload)) {
		if ('message' in payload) {
			payload = payload.message;
		}
	}
	if (Buffer.isBuffer(payload)) {
		if (pdu.data_coding === 8) {
			const b = Buffer.from(payload);
			b.swap16();
			return b.toString('utf16le');
		}
		return payload.toString('latin1');
	}
	return payload == null ? '' : String(payload);
}

// udhOf returns the user data header of the submit_sm's short message as
// hex, "" when it has none: a concatenated message carries one per part.
function udhOf(pdu) {
	const sm = pdu.short_message;
	if (sm && typeof sm === 'object' && Array.isArray(sm.udh)) {
		return Buffer.concat(sm.udh).toString('hex');
	}
	return '';
}

function pad(n) {
	return String(n).padStart(2, '0');
}

function smppDate(d) {
	return pad(d.getUTCFullYear() % 100) + pad(d.getUTCMonth() + 1) + pad(d.getUTCDate()) +
		pad(d.getUTCHours()) + pad(d.getUTCMinutes());
}

function deliver(session, cmd) {
	const opts = {
		source_addr: cmd.from || '',
		destination_addr: cmd.to || '',
		short_message: cmd.text || '',
	};
	if (cmd.ussd_service_op !== undefined && cmd.ussd_service_op >= 0) {
		opts.ussd_service_op = cmd.ussd_service_op;
	}
	if (cmd.its_session_info) {
		opts.its_session_info = Buffer.from(cmd.its_session_info, 'hex');
	}
	if (cmd.esm_class) {
		opts.esm_class = cmd.esm_class;
	}
	if (cmd.receipted_message_id) {
		opts.receipted_message_id = cmd.receipted_message_id;
		opts.message_state = cmd.message_state;
	}
	session.deliver_sm(opts, (resp) => {
		emit({event: 'deliver_sm_resp', ref: cmd.ref || '', status: resp.command_status});
	});
}

const server = smpp.createServer((session) => {
	const bind = (pdu) => {
		if (pdu.system_id !== systemID || pdu.password !== password) {
			emit({event: 'bind_refused', command: pdu.command, system_id: pdu.system_id});
			session.send(pdu.response({command_status: smpp.ESME_RBINDFAIL}));
			return;
		}
		session.send(pdu.response({system_id: 'smsc'}));
		if (pdu.command !== 'bind_transmitter') {
			receivers.push(session);
		}
		emit({event: 'bound', command: pdu.command, system_id: pdu.system_id});
	};
	session.on('bind_transceiver', bind);
	session.on('bind_transmitter', bind);
	session.on('bind_receiver', bind);
	session.on('enquire_link', (pdu) => session.send(pdu.response()));
	session.on('unbind', (pdu) => {
		session.send(pdu.response());
		session.close();
	});
	const submit = (pdu) => {
		const id = 'smsc-' + nextID++;
		session.send(pdu.response({message_id: id}));
		const ev = {
			event: pdu.command,
			from: pdu.source_addr,
			to: pdu.destination_addr,
			text: decodeText(pdu),
			udh: udhOf(pdu),
			data_coding: pdu.data_coding,
			esm_class: pdu.esm_class,
			registered_delivery: pdu.registered_delivery,
			ussd_service_op: pdu.ussd_service_op === undefined ? -1 : pdu.ussd_service_op,
			its_session_info: pdu.its_session_info ? Buffer.from(pdu.its_session_info).toString('hex') : '',
			message_id: id,
		};
		emit(ev);
		if (pdu.registered_delivery & 1) {
			const now = smppDate(new Date());
			const receipt = 'id:' + id + ' sub:001 dlvrd:001 submit date:' + now + ' done date:' + now +
				' stat:DELIVRD err:000 text:' + ev.text.slice(0, 20);
			const rx = receivers[receivers.length - 1] || session;
			setImmediate(() => deliver(rx, {
				ref: 'receipt:' + id, from: pdu.destination_addr, to: pdu.source_addr, text: receipt,
				esm_class: 0x04, receipted_message_id: id, message_state: 2,
			}));
		}
	};
	session.on('submit_sm', submit);
	session.on('data_sm', submit);
	session.on('close', () => {
		const i = receivers.indexOf(session);
		if (i >= 0) {
			receivers.splice(i, 1);
		}
	});
	session.on('error', (err) => emit({event: 'session_error', error: String(err)}));
});

server.listen(port, '127.0.0.1', () => emit({event: 'listening', port: port}));

readline.createInterface({input: process.stdin}).on('line', (line) => {
	if (!line.trim()) {
		return;
	}
	let cmd;
	try {
		cmd = JSON.parse(line);
	} catch (e) {
		emit({event: 'error', error: 'bad command: ' + e.message});
		return;
	}
	if (cmd.cmd !== 'deliver') {
		emit({event: 'error', error: 'unknown command ' + cmd.cmd});
		return;
	}
	const rx = receivers[receivers.length - 1];
	if (!rx) {
		emit({event: 'error', ref: cmd.ref || '', error: 'no bound receiver'});
		return;
	}
	deliver(rx, cmd);
}).on('close', () => process.exit(0));
