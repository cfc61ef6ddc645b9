PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE enttui_runs (
	id INTEGER NOT NULL, 
	kind VARCHAR(32) NOT NULL, 
	status VARCHAR(32) NOT NULL, 
	started_at DATETIME NOT NULL, 
	ended_at DATETIME, 
	user VARCHAR(128) NOT NULL, 
	host VARCHAR(255) NOT NULL, 
	pid INTEGER NOT NULL, 
	options TEXT NOT NULL, 
	counts TEXT NOT NULL, 
	summary TEXT NOT NULL, 
	trace_count INTEGER NOT NULL, 
	trace_dropped INTEGER NOT NULL, 
	PRIMARY KEY (id)
);
INSERT INTO enttui_runs VALUES(1,'sync','réussi','2026-11-20 08:00:00.000000','2026-11-20 08:00:00.000000','admin','ent-server',4242,'{"cohorts": true, "force": false, "roles": false, "users": true}','{"users": {"created": 1, "updated": 0}}','Comptes utilisateur : 1 créé',2,0);
INSERT INTO enttui_runs VALUES(2,'diffusion','réussi','2026-11-20 08:00:00.000000','2026-11-20 08:00:00.000000','admin','ent-server',4242,'{"free_text": "", "include_activated": false, "subject": "Portail - vos identifiants", "targets": ["eleve"]}','{"changed": 2, "in_file": 1, "mailed": 1}','Mots de passe changés : 2',0,0);
INSERT INTO enttui_runs VALUES(3,'regeneration','en cours','2026-11-20 08:00:00.000000',NULL,'admin','ent-server',4242,'{"include_activated": false, "since": null, "uais": []}','{}','',0,0);
CREATE TABLE enttui_audit (
	id INTEGER NOT NULL, 
	at DATETIME NOT NULL, 
	user VARCHAR(128) NOT NULL, 
	action VARCHAR(128) NOT NULL, 
	target VARCHAR(512) NOT NULL, 
	detail TEXT NOT NULL, 
	PRIMARY KEY (id)
);
INSERT INTO enttui_audit VALUES(1,'2026-11-20 08:00:00.000000','root','fichier.generation','Identifiants-non-envoyes-20261120_080000.csv','diffusion n° 2 : 1 ligne(s) écrite(s)');
CREATE TABLE enttui_watermarks (
	entity VARCHAR(64) NOT NULL, 
	value DATETIME NOT NULL, 
	run_id INTEGER, 
	PRIMARY KEY (entity)
);
INSERT INTO enttui_watermarks VALUES('users','2026-11-20 08:00:00.000000',1);
CREATE TABLE enttui_files (
	id INTEGER NOT NULL, 
	name VARCHAR(255) NOT NULL, 
	kind VARCHAR(64) NOT NULL, 
	size BIGINT NOT NULL, 
	created_at DATETIME NOT NULL, 
	run_id INTEGER, 
	user VARCHAR(128) NOT NULL, 
	uai VARCHAR(16) NOT NULL, 
	rows INTEGER NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (name)
);
INSERT INTO enttui_files VALUES(1,'Identifiants-non-envoyes-20261120_080000.csv','diffusion',321,'2026-11-20 08:00:00.000000',2,'admin','0123456A',1);
CREATE TABLE enttui_trace (
	id INTEGER NOT NULL, 
	run_id INTEGER NOT NULL, 
	seq INTEGER NOT NULL, 
	at DATETIME NOT NULL, 
	level VARCHAR(16) NOT NULL, 
	entity VARCHAR(128) NOT NULL, 
	text TEXT NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_enttui_trace_run_seq UNIQUE (run_id, seq), 
	FOREIGN KEY(run_id) REFERENCES enttui_runs (id) ON DELETE CASCADE
);
INSERT INTO enttui_trace VALUES(1,1,1,'2026-11-20 08:00:00.000000','info','users','Lecture de l''annuaire');
INSERT INTO enttui_trace VALUES(2,1,2,'2026-11-20 08:00:00.000000','change','users','création de jean.martin');
CREATE TABLE enttui_journal (
	id INTEGER NOT NULL, 
	run_id INTEGER NOT NULL, 
	item_key VARCHAR(255) NOT NULL, 
	status VARCHAR(32) NOT NULL, 
	detail TEXT NOT NULL, 
	at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_enttui_journal_run_item UNIQUE (run_id, item_key), 
	FOREIGN KEY(run_id) REFERENCES enttui_runs (id) ON DELETE CASCADE
);
INSERT INTO enttui_journal VALUES(1,2,'uid=a,ou=people,dc=ent,dc=test','mailed','','2026-11-20 08:00:00.000000');
INSERT INTO enttui_journal VALUES(2,2,'uid=b,ou=people,dc=ent,dc=test','in_file','pas d''adresse','2026-11-20 08:00:00.000000');
INSERT INTO enttui_journal VALUES(3,2,'@file','file','Identifiants-non-envoyes-20261120_080000.csv','2026-11-20 08:00:00.000000');
CREATE INDEX ix_enttui_runs_status ON enttui_runs (status);
CREATE INDEX ix_enttui_runs_kind_started ON enttui_runs (kind, started_at);
CREATE INDEX ix_enttui_audit_at ON enttui_audit (at);
COMMIT;
