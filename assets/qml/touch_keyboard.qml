// On-screen keyboard with pinyin (Qt Virtual Keyboard), embedded under the form screen.
// Python sets `language`; the helper functions drive the input engine the way a finger does
// (virtualKeyClick is the same path a key press on the panel takes), for tests and the demo.
import QtQuick
import QtQuick.VirtualKeyboard
import QtQuick.VirtualKeyboard.Settings

Item {
    id: root
    property string language: "zh_CN"
    onLanguageChanged: VirtualKeyboardSettings.locale = (language === "zh_CN" ? "zh_CN" : "en_US")

    // The panel's height follows its width; narrow it so all four rows fit the height we have.
    InputPanel {
        id: panel
        width: Math.min(root.width, root.height * 3.0)
        anchors.horizontalCenter: parent.horizontalCenter
        anchors.bottom: parent.bottom
    }

    Component.onCompleted: {
        VirtualKeyboardSettings.activeLocales = ["zh_CN", "en_US"]
        VirtualKeyboardSettings.locale = (language === "zh_CN" ? "zh_CN" : "en_US")
    }

    function typeText(text) {
        for (var i = 0; i < text.length; i++) {
            var c = text.charAt(i)
            InputContext.inputEngine.virtualKeyClick(c.toUpperCase().charCodeAt(0), c, 0)
        }
    }

    function candidateCount() { return InputContext.inputEngine.wordCandidateListModel.count }
    function candidate(i) { return InputContext.inputEngine.wordCandidateListModel.dataAt(i, 0) }
    function pickCandidate(i) { InputContext.inputEngine.wordCandidateListModel.selectItem(i) }
}
