<?php
// enttui's probe: asks Moodle's own code what it sees in a database the sync wrote.
//
// Written for the enttui test suite (not Moodle code). Run by tests/support/moodle_php.py:
//   php moodle_probe.php REQUEST.json ANSWER.json
// with ENTTUI_PROBE_MOODLE = the unpacked Moodle source tree (whose config.php, written by the
// tests, reads the database settings from ENTTUI_PROBE_* variables). One PHP process answers every
// question of the request; the answer is one JSON document.

define('CLI_SCRIPT', true);

$root = getenv('ENTTUI_PROBE_MOODLE');
require($root . '/config.php');
require_once($CFG->dirroot . '/cohort/lib.php');
require_once($CFG->dirroot . '/course/lib.php');
require_once($CFG->libdir . '/enrollib.php');
require_once($CFG->libdir . '/accesslib.php');
require_once($CFG->dirroot . '/user/lib.php');

$request = json_decode(file_get_contents($argv[1]), true);
$answer = [];

/** The context named "system", "course:<idnumber>" or "coursecat:<idnumber>". */
function enttui_probe_context(string $name) {
    global $DB;
    if ($name === 'system') {
        return context_system::instance();
    }
    [$level, $key] = explode(':', $name, 2);
    if ($level === 'course') {
        $id = $DB->get_field('course', 'id', ['idnumber' => $key], MUST_EXIST);
        return context_course::instance($id);
    }
    $id = $DB->get_field('course_categories', 'id', ['idnumber' => $key], MUST_EXIST);
    return context_coursecat::instance($id);
}

function enttui_probe_user_id(string $username): int {
    $user = core_user::get_user_by_username($username);
    return $user ? (int)$user->id : 0;
}

// Setup, as an administrator would do it in Moodle: enable auth plugins, create courses.
if (!empty($request['setup'])) {
    $setup = $request['setup'];
    if (isset($setup['auth'])) {
        set_config('auth', $setup['auth']);
    }
    foreach ($setup['create_users'] ?? [] as $fields) {
        $fields['mnethostid'] = $CFG->mnet_localhost_id;
        $fields['confirmed'] = 1;
        user_create_user((object)$fields, false, false);
    }
    foreach ($setup['update_users'] ?? [] as $change) {
        $user = core_user::get_user_by_username($change['username'], '*', null, MUST_EXIST);
        user_update_user((object)array_merge(['id' => $user->id], $change['set']), false, false);
    }
    foreach ($setup['courses'] ?? [] as $idnumber) {
        if (!$DB->record_exists('course', ['idnumber' => $idnumber])) {
            create_course((object)[
                'fullname' => 'Cours ' . $idnumber,
                'shortname' => $idnumber,
                'idnumber' => $idnumber,
                'category' => $DB->get_field_sql('SELECT MIN(id) FROM {course_categories}'),
            ]);
        }
    }
}

$answer['auth_enabled'] = array_values(get_enabled_auth_plugins());

// admin/cli/check_database_schema.php asks the same question of the same API.
if (!empty($request['schema'])) {
    $dbmanager = $DB->get_manager();
    $errors = $dbmanager->check_database_schema($dbmanager->get_install_xml_schema());
    $answer['schema'] = [];
    foreach ($errors as $table => $items) {
        foreach ($items as $item) {
            $answer['schema'][] = "$table: $item";
        }
    }
}

if (!empty($request['users'])) {
    $dirty = get_cache_flags('accesslib/dirtyusers');
    $answer['users'] = [];
    foreach ($request['users'] as $username) {
        $user = core_user::get_user_by_username($username);
        if (!$user) {
            $answer['users'][$username] = ['found' => false];
            continue;
        }
        $valid = core_user::validate($user);
        $context = context_user::instance($user->id, IGNORE_MISSING);
        $answer['users'][$username] = [
            'found' => true,
            'id' => (int)$user->id,
            'auth' => $user->auth,
            'idnumber' => $user->idnumber,
            'suspended' => (bool)$user->suspended,
            'valid' => $valid === true ? true : $valid,
            'clean' => clean_param($user->username, PARAM_USERNAME) === $user->username,
            'context' => $context ? $context->path : null,
            'dirty' => !empty($dirty[$user->id]),
        ];
    }
}

if (!empty($request['cohorts'])) {
    $answer['cohorts'] = [];
    foreach ($request['cohorts'] as $idnumber => $usernames) {
        $cohort = $DB->get_record('cohort', ['idnumber' => $idnumber]);
        if (!$cohort) {
            $answer['cohorts'][$idnumber] = ['exists' => false];
            continue;
        }
        $members = [];
        foreach ($usernames as $username) {
            $id = enttui_probe_user_id($username);
            $members[$username] = $id ? cohort_is_member($cohort->id, $id) : false;
        }
        $answer['cohorts'][$idnumber] = [
            'exists' => true,
            'name' => $cohort->name,
            'visible' => (bool)$cohort->visible,
            'component' => $cohort->component,
            'size' => $DB->count_records('cohort_members', ['cohortid' => $cohort->id]),
            'members' => $members,
        ];
    }
}

if (!empty($request['roles'])) {
    $answer['roles'] = [];
    foreach ($request['roles'] as $question) {
        $context = enttui_probe_context($question['context']);
        $id = enttui_probe_user_id($question['user']);
        $roles = [];
        if ($id) {
            foreach (get_user_roles($context, $id, false) as $ra) {
                $roles[] = $ra->shortname;
            }
            sort($roles);
        }
        $item = ['user' => $question['user'], 'context' => $question['context'], 'roles' => $roles];
        if (!empty($question['capability'])) {
            $item['capability'] = $question['capability'];
            $item['has'] = $id ? has_capability($question['capability'], $context, $id) : false;
        }
        $answer['roles'][] = $item;
    }
}

if (!empty($request['enrol'])) {
    $spec = $request['enrol'];
    $course = $DB->get_record('course', ['shortname' => $spec['course']]);
    if (!$course && !empty($spec['create'])) {
        // A course with a cohort enrolment instance, as a teacher would make it.
        $course = create_course((object)[
            'fullname' => 'Cours ' . $spec['course'],
            'shortname' => $spec['course'],
            'idnumber' => $spec['course'],
            'category' => $DB->get_field_sql('SELECT MIN(id) FROM {course_categories}'),
        ]);
        $cohortid = $DB->get_field('cohort', 'id', ['idnumber' => $spec['cohort']], MUST_EXIST);
        enrol_get_plugin('cohort')->add_instance($course, ['customint1' => $cohortid, 'roleid' => 5]);
    }
    $enrolled = function () use ($course) {
        $names = [];
        foreach (get_enrolled_users(context_course::instance($course->id), '', 0, 'u.id, u.username') as $u) {
            $names[] = $u->username;
        }
        sort($names);
        return $names;
    };
    $answer['enrol'] = ['before_task' => $enrolled()];
    if (!empty($spec['run_task'])) {
        \core\cron::setup_user();
        $task = \core\task\manager::get_scheduled_task('\enrol_cohort\task\enrol_cohort_sync');
        $task->execute();
        $answer['enrol']['after_task'] = $enrolled();
    }
}

file_put_contents($argv[2], json_encode($answer, JSON_PRETTY_PRINT | JSON_UNESCAPED_UNICODE));
