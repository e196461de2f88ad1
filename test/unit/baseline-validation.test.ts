/** Baseline validation: each kind of bad input is refused with an error naming the source, the path inside it and what is wrong. */
import assert from 'node:assert/strict';
import { parseBaseline } from '../../core/baseline.js';
import { KdriftError } from '../../core/errors.js';

const SRC = 'baselines/test.yaml';
const role = (r: Record<string, unknown>) => ({ roles: { 'load-balancer': r } });
const sysctl = (key: string, exp: unknown) => role({ sysctls: { [key]: exp } });
const wscale = { 'net.ipv4.tcp_window_scaling': { equals: 1 } };
const behaviour = (b: Record<string, unknown>) => role({ sysctls: wscale, behaviours: [{ check: 'tcp.windowScaling', port: 80, minShare: 0.99, ...b }] });

function refused(input: unknown, ...patterns: RegExp[]): void {
  assert.throws(
    () => parseBaseline(input, SRC),
    (e: unknown) => {
      assert.ok(e instanceof KdriftError, `expected a KdriftError, got ${String(e)}`);
      assert.ok(e.message.startsWith(`${SRC}: `), `names the source: ${e.message}`);
      for (const p of patterns) assert.match(e.message, p);
      return true;
    },
  );
}

describe('baseline validation: each bad input gives its clear error', () => {
  it('a_well_formed_baseline_is_accepted_and_keys_normalised', () => {
    const b = parseBaseline(sysctl('net/ipv4/tcp_sack', { equals: '1' }), SRC);
    assert.deepEqual([...(b.roles['load-balancer']?.sysctls.keys() ?? [])], ['net.ipv4.tcp_sack']);
  });
  it('not_an_object_is_refused', () => refused('roles: []', /expected object/i));
  it('missing_roles_is_refused', () => refused({}, /roles: Required/));
  it('unknown_top_level_field_is_refused_naming_it', () => refused({ roles: {}, rolez: {} }, /Unrecognized key.*rolez/));
  it('role_name_not_lower_case_words_is_refused', () => refused({ roles: { LoadBalancer: {} } }, /roles\.LoadBalancer.*lower-case words/));
  it('unknown_field_in_a_role_is_refused', () => refused(role({ sysctl: {} }), /roles\.load-balancer.*Unrecognized key.*sysctl/));
  it('absolute_path_key_is_refused_naming_the_key', () => refused(sysctl('/proc/sys/net/ipv4/tcp_sack', { equals: 1 }), /roles\.load-balancer\.sysctls\.\/proc\/sys\/net\/ipv4\/tcp_sack: .*absolute path/));
  it('dot_dot_key_is_refused', () => refused(sysctl('net/../../etc/shadow', { equals: 1 }), /contains "\.\."/));
  it('upper_case_key_segment_is_refused', () => refused(sysctl('net.ipv4.TCP_SACK', { equals: 1 }), /outside \[a-z0-9_.-\]/));
  it('single_segment_key_is_refused', () => refused(sysctl('somaxconn', { min: 1 }), /at least two segments/));
  it('same_key_in_dotted_and_slashed_form_is_a_duplicate', () =>
    refused(role({ sysctls: { 'net.ipv4.tcp_sack': { equals: 1 }, 'net/ipv4/tcp_sack': { equals: 1 } } }), /net\/ipv4\/tcp_sack: duplicate of key net\.ipv4\.tcp_sack/));
  it('expectation_without_a_kind_is_refused', () => refused(sysctl('net.ipv4.tcp_sack', { severity: 'high' }), /tcp_sack: needs exactly one of equals, oneOf, or min\/max/));
  it('expectation_with_two_kinds_is_refused', () => refused(sysctl('net.ipv4.tcp_sack', { equals: 1, min: 0 }), /needs exactly one of/));
  it('misspelt_expectation_field_is_refused', () => refused(sysctl('net.ipv4.tcp_sack', { equal: 1 }), /tcp_sack.*Unrecognized key.*equal/));
  it('non_integer_bound_is_refused', () => refused(sysctl('net.core.somaxconn', { min: 'lots' }), /somaxconn\.min: "lots" is not an integer/));
  it('min_greater_than_max_is_refused', () => refused(sysctl('net.ipv4.tcp_fin_timeout', { min: 60, max: 30 }), /min is greater than max/));
  it('min_and_max_with_different_field_counts_are_refused', () => refused(sysctl('net.ipv4.ip_local_port_range', { min: [1024, 60000], max: 65535 }), /different numbers of fields/));
  it('empty_value_is_refused', () => refused(sysctl('net.ipv4.tcp_sack', { equals: '  ' }), /tcp_sack\.equals: value is empty/));
  it('value_with_a_newline_is_refused', () => refused(sysctl('net.ipv4.tcp_sack', { equals: '1\nkernel.x = 2' }), /newline or NUL/));
  it('empty_one_of_is_refused', () => refused(sysctl('net.ipv4.tcp_tw_reuse', { oneOf: [] }), /tcp_tw_reuse\.oneOf/));
  it('value_of_the_wrong_type_is_refused_saying_what_a_value_may_be', () => refused(sysctl('net.ipv4.tcp_sack', { equals: true }), /tcp_sack\.equals: must be a number, a string, or a list of them/));
  it('unknown_severity_is_refused_listing_the_choices', () => refused(sysctl('net.ipv4.tcp_sack', { equals: 1, severity: 'urgent' }), /severity.*critical.*high.*medium.*low/));
  it('unknown_remediation_policy_is_refused', () => refused(sysctl('net.ipv4.tcp_sack', { equals: 1, remediation: 'yolo' }), /remediation.*auto.*manual.*never/));
  it('expectation_not_an_object_is_refused', () => refused(sysctl('net.ipv4.tcp_sack', 1), /tcp_sack/));
  it('unknown_behaviour_check_is_refused_listing_the_known_ones', () => refused(role({ behaviours: [{ check: 'tcp.magic', port: 80 }] }), /behaviours\.0\.check.*tcp\.windowScaling/));
  it('behaviour_port_out_of_range_is_refused', () => refused(behaviour({ port: 70000 }), /behaviours\.0\.port/));
  it('behaviour_share_above_one_is_refused', () => refused(behaviour({ minShare: 1.5 }), /behaviours\.0\.minShare/));
  it('behaviour_window_that_is_not_a_duration_is_refused', () => refused(behaviour({ window: '10 parsecs' }), /behaviours\.0\.window: "10 parsecs" is not a duration/));
  it('behaviour_missing_its_threshold_is_refused', () => refused(role({ behaviours: [{ check: 'tcp.zeroWindow', port: 80 }] }), /behaviours\.0\.max: Required/));
  it('behaviour_depending_on_an_undeclared_sysctl_is_refused', () => refused(behaviour({ dependsOn: ['net.ipv4.tcp_sack'] }), /behaviours\.0\.dependsOn: depends on net\.ipv4\.tcp_sack, which role load-balancer does not declare/));
  it('behaviour_depending_on_a_bad_key_is_refused', () => refused(behaviour({ dependsOn: ['/etc/passwd'] }), /dependsOn\.0: sysctl key.*absolute path/));
  it('every_problem_is_reported_not_just_the_first', () =>
    refused(role({ sysctls: { '/x': { equals: 1 }, 'net.ipv4.tcp_sack': { severity: 'high' } } }), /absolute path/, /needs exactly one of/));
});
