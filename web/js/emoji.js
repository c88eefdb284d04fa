// Slack's names for the emoji this client knows; others show as :name:.

export const EMOJI = {
  '+1': '👍', thumbsup: '👍', '-1': '👎', thumbsdown: '👎', heart: '❤️', joy: '😂',
  smile: '😄', smiley: '😃', grinning: '😀', wink: '😉', blush: '😊', slightly_smiling_face: '🙂',
  laughing: '😆', sweat_smile: '😅', rofl: '🤣', heart_eyes: '😍', thinking_face: '🤔',
  neutral_face: '😐', cry: '😢', sob: '😭', scream: '😱', angry: '😠', rage: '😡',
  sunglasses: '😎', upside_down_face: '🙃', clap: '👏', wave: '👋', pray: '🙏', muscle: '💪',
  ok_hand: '👌', raised_hands: '🙌', point_up: '☝️', eyes: '👀', tada: '🎉', fire: '🔥',
  rocket: '🚀', sparkles: '✨', star: '⭐', zap: '⚡', boom: '💥', '100': '💯',
  white_check_mark: '✅', heavy_check_mark: '✔️', x: '❌', warning: '⚠️', question: '❓',
  exclamation: '❗', bulb: '💡', memo: '📝', bug: '🐛', coffee: '☕', pizza: '🍕', beer: '🍺',
  cake: '🍰', gift: '🎁', trophy: '🏆', moneybag: '💰', calendar: '📅', lock: '🔒',
  key: '🔑', wrench: '🔧', hammer: '🔨', gear: '⚙️', link: '🔗', email: '📧', phone: '📱',
  computer: '💻', sun: '☀️', sunny: '☀️', cloud: '☁️', umbrella: '☔', snowflake: '❄️',
  rainbow: '🌈', dog: '🐶', cat: '🐱', unicorn_face: '🦄', see_no_evil: '🙈', skull: '💀',
  ghost: '👻', robot_face: '🤖', poop: '💩', hankey: '💩', heavy_plus_sign: '➕',
  raising_hand: '🙋', shrug: '🤷', facepalm: '🤦', party_popper: '🎉', partying_face: '🥳',
  hugging_face: '🤗', star_struck: '🤩', zipper_mouth_face: '🤐', sleeping: '😴',
  thumbs_up: '👍', white_heart: '🤍', green_heart: '💚', blue_heart: '💙', purple_heart: '💜',
  broken_heart: '💔', ok: '🆗', new: '🆕', speech_balloon: '💬', pushpin: '📌',
};

// The picker's choices, in order.
export const PICKER = [
  '+1', 'heart', 'joy', 'tada', 'eyes', 'white_check_mark', 'fire', 'pray',
  'smile', 'thinking_face', 'rocket', 'clap', 'raised_hands', 'wave', 'ok_hand', '100',
  'cry', 'scream', 'sunglasses', 'bulb', 'bug', 'coffee', 'x', '-1',
];

export function emojiChar(name) {
  return EMOJI[name] || null;
}

export function emojiLabel(name) {
  return `:${name}:`;
}
