-- Languages greetings can be given in, by lowercase BCP 47 tag.
CREATE TABLE languages (
    code        TEXT PRIMARY KEY CHECK (code = lower(code)),
    name        TEXT NOT NULL,
    native_name TEXT NOT NULL
);

-- Message templates by language and key; `{name}` is replaced when rendered.
CREATE TABLE translations (
    language   TEXT        NOT NULL REFERENCES languages (code) ON DELETE CASCADE,
    key        TEXT        NOT NULL,
    template   TEXT        NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (language, key)
);

-- Each user's preferred language; user ids are the auth service's.
CREATE TABLE preferences (
    user_id    TEXT        PRIMARY KEY,
    language   TEXT        NOT NULL REFERENCES languages (code),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

INSERT INTO languages (code, name, native_name) VALUES
    ('en', 'English', 'English'),
    ('fr', 'French', 'Français'),
    ('de', 'German', 'Deutsch'),
    ('es', 'Spanish', 'Español'),
    ('it', 'Italian', 'Italiano'),
    ('pt', 'Portuguese', 'Português'),
    ('nl', 'Dutch', 'Nederlands'),
    ('sv', 'Swedish', 'Svenska'),
    ('pl', 'Polish', 'Polski'),
    ('tr', 'Turkish', 'Türkçe'),
    ('ru', 'Russian', 'Русский'),
    ('ar', 'Arabic', 'العربية'),
    ('hi', 'Hindi', 'हिन्दी'),
    ('ja', 'Japanese', '日本語'),
    ('zh', 'Chinese', '中文');

INSERT INTO translations (language, key, template) VALUES
    ('en', 'greeting', 'Hello, {name}!'),
    ('fr', 'greeting', 'Bonjour, {name} !'),
    ('de', 'greeting', 'Hallo, {name}!'),
    ('es', 'greeting', '¡Hola, {name}!'),
    ('it', 'greeting', 'Ciao, {name}!'),
    ('pt', 'greeting', 'Olá, {name}!'),
    ('nl', 'greeting', 'Hallo, {name}!'),
    ('sv', 'greeting', 'Hej, {name}!'),
    ('pl', 'greeting', 'Cześć, {name}!'),
    ('tr', 'greeting', 'Merhaba, {name}!'),
    ('ru', 'greeting', 'Привет, {name}!'),
    ('ar', 'greeting', 'مرحبا، {name}!'),
    ('hi', 'greeting', 'नमस्ते, {name}!'),
    ('ja', 'greeting', 'こんにちは、{name}さん!'),
    ('zh', 'greeting', '你好，{name}！');
